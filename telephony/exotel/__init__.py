"""Exotel carrier package."""

from telephony.exotel.provider import ExotelProvider

__all__ = ["ExotelProvider"]
