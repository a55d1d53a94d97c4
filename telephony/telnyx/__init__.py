"""Telnyx carrier package."""

from telephony.telnyx.provider import TelnyxProvider

__all__ = ["TelnyxProvider"]
