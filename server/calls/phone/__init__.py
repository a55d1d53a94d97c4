"""Phone calls on top of the call lifecycle.

``carriers`` (providers from stored accounts, public URLs), ``webhooks`` (the one preamble
every carrier webhook goes through: carrier, body, signature), ``inbound`` (the voice
webhook), ``outbound`` (dialing), ``status`` (status callbacks, voicemail policy),
``streams`` (stream tokens and the media websocket: handshake, admission, the live call).
"""
