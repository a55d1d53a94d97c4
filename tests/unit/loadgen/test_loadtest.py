"""Unit tests of the load generator's own logic: pacing, latency/lateness, signatures."""

from __future__ import annotations

import numpy as np
import pytest
from twilio.request_validator import RequestValidator

from loadgen.audio import frames, pcm_peak, pcm_to_ulaw, resample, ulaw_peak, ulaw_to_pcm
from loadgen.pacing import FrameClock
from loadgen.report import distribution, percentile, summarize, summary_table
from loadgen.script import CallResult
from loadgen.signing import twilio_signature
from loadgen.timeline import CallTimeline
from loadgen.twilio_protocol import StreamMessages, parse_twiml_stream, webhook_form

# -- signatures ---------------------------------------------------------------------------


def test_signature_matches_twilios_published_example() -> None:
    # the worked example of Twilio's webhook-security documentation
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
              "From": "+12349013030", "To": "+18005551212"}  # fmt: skip
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert twilio_signature("12345", url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_signature_is_accepted_by_twilios_validator() -> None:
    form = webhook_form("AC" + "0" * 32, "+15005550001", "+15005550006", "CA" + "1" * 32)
    url = "https://voice.example.com/telephony/twilio/voice"
    sig = twilio_signature("s3cret-token", url, form)
    validator = RequestValidator("s3cret-token")
    assert validator.validate(url, form, sig)
    # any change to the token, the URL or a parameter invalidates it
    assert not RequestValidator("other-token").validate(url, form, sig)
    assert not validator.validate(url + "?x=1", form, sig)
    assert not validator.validate(url, {**form, "From": "+15550000000"}, sig)


# -- pacing -------------------------------------------------------------------------------


class FakeClock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_frame_deadlines_are_absolute_and_do_not_drift() -> None:
    now = FakeClock(100.0)
    clock = FrameClock(100.0, now=now)
    # every wake-up overshoots its deadline by 3 ms (a busy event loop)
    for _ in range(500):
        now.t = max(now.t, clock.deadline(clock.index)) + 0.003
        clock.record_sent()
    # 500 frames later the schedule is still start + 500 * 20 ms, not 500 * 23 ms
    assert clock.deadline(clock.index) == pytest.approx(100.0 + 500 * 0.020)
    assert clock.delay_for_next() == pytest.approx(0.017)
    assert all(lag == pytest.approx(0.003) for lag in clock.lags)


def test_a_late_frame_is_caught_up_without_shifting_the_schedule() -> None:
    now = FakeClock(0.0)
    clock = FrameClock(0.0, now=now)
    clock.record_sent()  # frame 0 on time
    now.t = 0.095  # a 75 ms stall: frames 1..4 are overdue
    waits = []
    for _ in range(4):
        waits.append(clock.delay_for_next())
        clock.record_sent()
    assert waits == [0.0, 0.0, 0.0, 0.0]  # sent back to back to catch up
    assert clock.lags[1] == pytest.approx(0.075)
    assert clock.lags[4] == pytest.approx(0.015)
    assert clock.max_lag == pytest.approx(0.075)
    # frame 5 is due at 100 ms: 5 ms from now
    assert clock.delay_for_next() == pytest.approx(0.005)


async def test_wait_next_sleeps_until_the_deadline() -> None:
    import time

    start = time.monotonic()
    clock = FrameClock(start, frame_seconds=0.01)
    for _ in range(5):
        await clock.wait_next()
        clock.record_sent()
    # each frame was handed out no earlier than its deadline
    assert time.monotonic() >= start + 4 * 0.01
    assert len(clock.lags) == 5 and min(clock.lags) >= 0.0


# -- latency and lateness -----------------------------------------------------------------

F = 0.020  # one bot frame


def feed(tl: CallTimeline, times: list[float], voiced: bool = True) -> None:
    for t in times:
        tl.on_bot_audio(t, F, voiced)


def test_setup_time_is_stream_start_to_first_voiced_bot_frame() -> None:
    tl = CallTimeline()
    tl.on_stream_start(10.0)
    feed(tl, [10.2, 10.21], voiced=False)  # silence does not count as the greeting
    feed(tl, [10.25])
    assert tl.setup_time == pytest.approx(0.25)


def test_voice_to_voice_per_turn() -> None:
    tl = CallTimeline()
    tl.on_stream_start(0.0)
    feed(tl, [0.5])
    tl.on_caller_speech_end(5.0)
    feed(tl, [5.3], voiced=False)
    feed(tl, [5.42, 5.43])
    tl.on_caller_speech_end(9.0)
    feed(tl, [9.61])
    tl.on_caller_speech_end(12.0)  # never answered
    assert tl.voice_to_voice() == pytest.approx([0.42, 0.61])
    assert tl.turns[2].response_at is None


def test_lateness_against_the_playout_clock() -> None:
    tl = CallTimeline()
    tl.on_stream_start(0.0)
    # Playout starts at the first frame (1.000) and advances 20 ms per frame received:
    # playout times 1.000, 1.020, 1.040, 1.060, 1.080.
    # Frames 2-3 arrive early (bursts are fine), frame 4 arrives 50 ms after its playout
    # time, and frame 5 is then late too: the clock does not wait for late audio.
    feed(tl, [1.000, 1.005, 1.010, 1.110, 1.111])
    assert tl.lateness == pytest.approx([0.0, 0.0, 0.0, 0.050, 0.031])
    assert tl.playout_end() == pytest.approx(1.100)


def test_a_new_turn_and_a_clear_restart_the_playout_clock() -> None:
    tl = CallTimeline()
    feed(tl, [1.0, 1.02, 1.04])
    tl.on_caller_speech_end(4.0)
    feed(tl, [4.5, 4.52])  # a new utterance: not late despite the gap since 1.06
    assert tl.lateness[-2:] == [0.0, 0.0]
    tl.on_clear(4.53)
    feed(tl, [6.0])
    assert tl.lateness[-1] == 0.0
    assert tl.clears == 1


def test_frame_durations_come_from_the_audio_received() -> None:
    tl = CallTimeline()
    tl.on_bot_audio(0.0, 0.040, True)  # a 40 ms frame moves the clock 40 ms
    tl.on_bot_audio(0.050, 0.020, True)
    assert tl.lateness == pytest.approx([0.0, 0.010])
    assert tl.bot_audio_seconds == pytest.approx(0.060)


def test_bot_idle_after_playout_and_quiet() -> None:
    tl = CallTimeline()
    assert not tl.bot_idle(100.0, 0.4)  # nothing heard yet
    feed(tl, [1.0, 1.001, 1.002])  # 60 ms of audio, ends playing at 1.06
    assert not tl.bot_idle(1.2, 0.4)  # arrived too recently
    assert tl.bot_idle(1.5, 0.4)


# -- audio, reports, TwiML ----------------------------------------------------------------


def test_ulaw_matches_g711() -> None:
    # G.711 reference points: zero and the extremes
    assert pcm_to_ulaw(np.array([0, 32767, -32768], "<i2").tobytes()) == bytes([0xFF, 0x80, 0x00])
    assert np.frombuffer(ulaw_to_pcm(bytes([0xFF, 0x80, 0x00])), "<i2").tolist() == [0, 32124, -32124]
    # every sample survives a round trip within μ-law's quantization step (3% + 4)
    pcm = np.arange(-32768, 32768, 7, dtype="<i2")
    back = np.frombuffer(ulaw_to_pcm(pcm_to_ulaw(pcm.tobytes())), "<i2").astype(int)
    assert np.all(np.abs(back - pcm.astype(int)) <= np.abs(pcm.astype(int)) * 0.07 + 8)


def test_ulaw_peak_without_decoding() -> None:
    rng = np.random.default_rng(2)
    for _ in range(200):
        frame = rng.integers(0, 256, 160, dtype=np.uint8).tobytes()
        assert ulaw_peak(frame) == pcm_peak(ulaw_to_pcm(frame))
    assert ulaw_peak(bytes([0xFF]) * 160) == 0 and ulaw_peak(b"") == 0


def test_voiced_detection_framing_and_resampling() -> None:
    t = np.arange(16000) / 16000
    tone = (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").tobytes()
    narrow = resample(tone, 16000, 8000)
    assert len(narrow) == 16000  # one second at 8 kHz
    chunks = frames(pcm_to_ulaw(narrow), 8000, sample_width=1)
    assert len(chunks) == 50 and all(len(f) == 160 for f in chunks)
    assert all(7000 < ulaw_peak(f) < 9000 for f in chunks[1:-1])
    assert frames(b"\x01" * 100, 8000, sample_width=1)[-1].endswith(b"\xff" * 60)  # μ-law silence pad


def test_stream_messages_count_up_per_stream() -> None:
    m = StreamMessages("AC1", "CA1", "MZ1")
    assert '"sequenceNumber": "1"' in m.start({"token": "t"})
    media = m.media("AAAA")
    assert '"sequenceNumber":"2"' in media and '"chunk":"1"' in media and '"streamSid":"MZ1"' in media
    import json

    assert json.loads(media)["media"]["payload"] == "AAAA"
    assert json.loads(m.stop())["sequenceNumber"] == "3"


def test_percentile_matches_numpy() -> None:
    rng = np.random.default_rng(1)
    values = list(rng.exponential(0.1, 1001))
    for q in (50, 95, 99):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
    assert percentile([], 50) is None
    assert percentile([3.0], 99) == 3.0


def test_summary_of_synthetic_calls() -> None:
    ok = CallResult(index=0, call_sid="CA0")
    ok.timeline.on_stream_start(0.0)
    feed(ok.timeline, [0.1])
    ok.timeline.on_caller_speech_end(2.0)
    feed(ok.timeline, [2.3, 2.5])  # second frame 180 ms late
    bad = CallResult(index=1, call_sid="CA1", errors=["StreamError: timed out"])
    s = summarize([ok, bad], config={"calls": 2})
    assert s["calls"] == {"placed": 2, "completed": 1, "failed": 1}
    assert s["setup_ms"]["p50"] == pytest.approx(100.0)
    assert s["voice_to_voice_ms"]["n"] == 1
    assert s["voice_to_voice_ms"]["p50"] == pytest.approx(300.0)
    assert s["lateness_ms"]["max"] == pytest.approx(180.0)
    assert s["frames_later_than_100ms"] == 1
    assert s["errors"] == ["call 1: StreamError: timed out"]
    assert distribution([])["p50"] is None
    assert "incl. barge-ins" not in summary_table(s)
    ok.timeline.on_caller_speech_end(5.0, barge_in=True)
    feed(ok.timeline, [5.2])
    s = summarize([ok], config={})
    assert s["voice_to_voice_ms"]["n"] == 1 and s["voice_to_voice_all_ms"]["n"] == 2
    assert "incl. barge-ins" in summary_table(s)


def test_parse_twiml_stream() -> None:
    twiml = (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Connect>'
        '<Stream url="wss://sb.example.com/telephony/twilio/stream">'
        '<Parameter name="token" value="abc"/><Parameter name="call_id" value="42"/>'
        "</Stream></Connect></Response>"
    )
    url, params = parse_twiml_stream(twiml)
    assert url == "wss://sb.example.com/telephony/twilio/stream"
    assert params == {"token": "abc", "call_id": "42"}
    with pytest.raises(ValueError):
        parse_twiml_stream("<Response><Say>busy</Say></Response>")
