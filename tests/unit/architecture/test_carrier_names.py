"""No carrier name as a string literal under server/: carrier variation lives in the
telephony contract (telephony/contract.py), and a carrier is one folder plus one registry
line in telephony/, so the server never asks which carrier it has."""

from __future__ import annotations

from tests.unit.architecture.scan import carrier_literals, python_files, where


def test_no_carrier_name_literal_under_server() -> None:
    found = [
        where(path, line, text)
        for path in python_files("server")
        for line, text in carrier_literals(path.read_text())
    ]
    assert not found, "ask the carrier's provider (telephony contract) instead:\n" + "\n".join(found)


def test_the_scan_finds_carrier_names() -> None:
    source = '''
"""Twilio, Telnyx and friends are fine in prose."""
if provider.name != "vonage":
    pass
RATES = {"twilio": 8000, "Plivo": 8000}
carrier = f"{name}"
PATH = "/telephony/twilio/voice"
SAFE = "twilio-like caller"
'''
    assert [line for line, _ in carrier_literals(source)] == [3, 5, 5]
