"""``switchboard loadtest``: places concurrent Twilio-like (and WebRTC) calls against a server.

Each call plays a scripted caller (espeak-ng speech, 20 ms μ-law frames paced in real time on
an absolute clock) and records setup time, voice-to-voice latency per turn, the lateness of
every bot audio frame against its playout clock, and errors.
"""
