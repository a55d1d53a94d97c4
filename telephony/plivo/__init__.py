"""Plivo carrier package."""

from telephony.plivo.provider import PlivoProvider

__all__ = ["PlivoProvider"]
