"""Twilio: voice webhooks, TwiML, Media Streams and the REST API (through the twilio SDK)."""

from telephony.twilio.provider import TwilioProvider

__all__ = ["TwilioProvider"]
