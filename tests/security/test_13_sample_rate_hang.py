"""Finding 13: a media stream whose ``start`` says ``sampleRate`` 1-99 hung the whole server
(pipecat's output chunk size became 0 and its chunking loop spun without yielding); 0,
negative and huge rates killed VAD, crashed the recording thread or flooded the caller.

Every carrier now validates its media format against what the carrier documents (8 or
16 kHz, its encodings) and refuses anything else with ``HandshakeInvalid`` (closed 1008);
and no carrier builds a serializer for an unsupported rate, whoever built the start."""

from __future__ import annotations

import pytest

from telephony.contract import HandshakeInvalid, StreamStart
from telephony.registry import CARRIERS, make_provider
from tests.security.carrier_handshakes import HANDSHAKES

pytestmark = pytest.mark.unit

BAD_RATES = ["1", "50", "99", "0", "-8000", "10000000", "8001", "44100"]


@pytest.mark.parametrize("carrier", sorted(CARRIERS))
@pytest.mark.parametrize("rate", BAD_RATES)
def test_unsupported_sample_rate_is_refused_at_the_handshake(carrier: str, rate: str) -> None:
    provider = make_provider(carrier, {}, api_base_urls={})
    value = f'"{rate}"' if carrier == "exotel" else rate  # Exotel writes the rate as a string
    with pytest.raises(HandshakeInvalid):
        provider.parse_stream_start(HANDSHAKES[carrier](value), {})


@pytest.mark.parametrize("carrier", sorted(CARRIERS))
def test_documented_rate_is_accepted(carrier: str) -> None:
    provider = make_provider(carrier, {}, api_base_urls={})
    start = provider.parse_stream_start(HANDSHAKES[carrier](), {})
    assert start is not None and start.sample_rate in (8000, 16000)
    assert provider.serializer(start) is not None


@pytest.mark.parametrize("carrier", sorted(CARRIERS))
@pytest.mark.parametrize("rate", [1, 99, 0, -8000, 10**7])
def test_a_bad_rate_never_reaches_a_serializer(carrier: str, rate: int) -> None:
    """Even a ``StreamStart`` built by hand (not by the handshake) gets no serializer."""
    provider = make_provider(carrier, {}, api_base_urls={})
    start = StreamStart("c1", "s1", {}, rate, "mulaw" if carrier in ("twilio", "plivo") else "linear16")
    if carrier == "telnyx":
        start = StreamStart("c1", "s1", {}, rate, "PCMU")
    with pytest.raises(HandshakeInvalid):
        provider.serializer(start)
