"""Switchboard's callers: the load generator and the caller toolkit the tests and bench use.

A client of the server, never imported by it (``tests/unit/architecture`` enforces that):

- the load generator, ``switchboard loadtest`` / ``python -m loadgen`` (``cli``, ``runner``,
  ``report``): places concurrent scripted calls, Twilio-like (``twilio_caller``) or WebRTC
  (``webrtc_caller``), each playing a ``script.CallScript`` with espeak-ng speech paced in
  real time on an absolute clock (``pacing``), and records setup time, voice-to-voice latency
  per turn, the lateness of every bot audio frame against its playout clock (``timeline``)
  and errors;
- the caller toolkit: audio (``audio``: μ-law, resampling, framing, levels), speech
  (``speech``: espeak-ng at any rate), carrier signatures (``signing``), Twilio's call
  messages (``twilio_protocol``) and the interactive callers end-to-end tests drive
  (``callers``: a Twilio emulator, a WebRTC peer, Telnyx/Plivo/Vonage/Exotel callers).
"""
