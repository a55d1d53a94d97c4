"""bench/turn_stages.py: a reply's stages from the server's latency records, and the table."""

from __future__ import annotations

import httpx
import pytest

from bench.turn_stages import reply_latencies, stage_samples, stage_table


def _latency(token: float, tts: float, out: float) -> dict[str, float | None]:
    return {"stt_final_ms": 1.0, "agent_first_token_ms": token, "tts_first_audio_ms": tts,
            "first_audio_out_ms": out, "user_bot_ms": None}  # fmt: skip


def test_each_stage_is_the_time_since_the_one_before():
    samples = stage_samples([_latency(17.0, 30.0, 34.5), _latency(40.0, 65.0, 80.0)])
    assert samples == {
        "end of turn → first token": [17.0, 40.0],
        "first token → TTS audio": [13.0, 25.0],
        "TTS audio → audio out": [4.5, 15.0],
        "end of turn → audio out": [34.5, 80.0],
    }


def test_a_reply_missing_a_stage_is_left_out():
    partial = _latency(17.0, 30.0, 34.5)
    partial["tts_first_audio_ms"] = None  # e.g. the caller barged in before any audio
    samples = stage_samples([partial, _latency(20.0, 30.0, 35.0)])
    assert samples["end of turn → first token"] == [20.0]
    assert samples["end of turn → audio out"] == [35.0]


def test_table_gives_p50_p95_and_max_per_stage():
    samples = stage_samples([_latency(float(ms), ms + 10.0, ms + 12.0) for ms in range(1, 101)])
    lines = stage_table("flux, 29 calls", samples)
    assert lines[0] == "flux, 29 calls (100 replies)"
    first = lines[2].split()
    assert first[-3:] == ["50.5", "95.0", "100.0"]
    assert lines[3].split()[-3:] == ["10.0", "10.0", "10.0"]


def test_replies_are_read_from_every_page_of_calls_not_seen_before():
    calls = {f"c{i}": [{"latency": _latency(10.0 + i, 20.0 + i, 25.0 + i)}, {"latency": None}]
             for i in range(3)}  # fmt: skip
    pages = {None: (["c0", "c1"], "next"), "next": (["c2"], None)}

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer key"
        if request.url.path == "/api/v1/calls":
            ids, cursor = pages[request.url.params.get("cursor")]
            return httpx.Response(200, json={"items": [{"id": i} for i in ids],
                                             "next_cursor": cursor})  # fmt: skip
        call_id = request.url.path.rsplit("/", 1)[1]
        return httpx.Response(200, json={"turns": calls[call_id]})

    client = httpx.Client(transport=httpx.MockTransport(handler), base_url="http://sb",
                          headers={"Authorization": "Bearer key"})  # fmt: skip
    latencies, seen = reply_latencies(client, skip={"c0"})
    assert seen == {"c0", "c1", "c2"}
    assert [lat["agent_first_token_ms"] for lat in latencies] == [11.0, 12.0]


def test_a_failed_api_read_is_an_error_not_an_empty_table():
    client = httpx.Client(transport=httpx.MockTransport(lambda _r: httpx.Response(401)),
                          base_url="http://sb")  # fmt: skip
    with pytest.raises(httpx.HTTPStatusError):
        reply_latencies(client, skip=set())


def test_a_report_is_printed_and_written_under_its_stem(tmp_path, monkeypatch, capsys):
    from bench import run

    monkeypatch.setattr(run, "RESULTS", tmp_path)
    out = run.report_lines("turn-stages-flux-29calls", ["a", "b"])
    assert out.parent == tmp_path
    assert out.name.startswith("turn-stages-flux-29calls-") and out.suffix == ".txt"
    assert out.read_text() == "a\nb\n"
    assert capsys.readouterr().out == f"a\nb\nwritten: {out}\n"
