"""Vonage carrier package."""

from telephony.vonage.provider import VonageProvider

__all__ = ["VonageProvider"]
