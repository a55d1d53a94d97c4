"""Costs: unit prices (PRICING) turn usage into an estimate per call, day and workflow, in the
JSON summary, the call page's API and the streamed CSV export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from uuid import UUID

import pytest

from db import usage as usage_db
from server.pricing import Pricing
from tests.integration.server.test_calls_api import _call
from tests.realtime.pipeline.test_pipeline_call import WORKFLOW
from tests.realtime.server.test_webrtc_calls import publish_workflow

PRICES = Pricing.model_validate({
    "currency": "EUR",
    "providers": {
        "deepgram": {"stt_per_minute": 0.6},
        "openai": {"llm_input_per_1k_tokens": 1.0, "llm_output_per_1k_tokens": 2.0},
        "openai/gpt-big": {"llm_input_per_1k_tokens": 10.0, "llm_output_per_1k_tokens": 20.0},
        "acme-carrier": {"carrier_per_minute": 0.12, "tts_per_1k_characters": 99.0},
        "espeak": {"tts_per_1k_characters": 0.5},
    },
})  # fmt: skip


@pytest.fixture
def priced(server, monkeypatch):
    monkeypatch.setattr(server.services.settings, "pricing", PRICES)


async def _usage(client, server, make_user):
    db = server.services.db
    user = await make_user()
    org = UUID(user.organization_id)
    wf = await publish_workflow(client, user.headers, WORKFLOW)
    day1 = datetime(2026, 4, 1, 12, tzinfo=UTC)
    day2 = datetime(2026, 4, 2, 9, tzinfo=UTC)
    first = await _call(db, user.organization_id, wf, "completed")
    await usage_db.upsert_for_call(db, org, first["id"], UUID(wf), [
        ("call_seconds", "acme-carrier", "", 120.0),      # 2 min * 0.12 = 0.24
        ("stt_seconds", "deepgram", "nova-3", 30.0),       # 0.5 min * 0.6 = 0.30
        ("llm_input_tokens", "openai", "gpt-small", 500.0),  # 0.5 * 1.0 = 0.50
        ("llm_output_tokens", "openai", "gpt-big", 100.0),   # model price: 0.1 * 20 = 2.00
        ("tts_characters", "espeak", "", 2000.0),           # 2 * 0.5 = 1.00
    ], recorded_at=day1)  # fmt: skip
    second = await _call(db, user.organization_id, None, "completed")
    await usage_db.upsert_for_call(db, org, second["id"], None, [
        ("call_seconds", "acme-carrier", "", 60.0),         # 0.12
        ("tts_characters", "unpriced", "", 5000.0),         # no price: 0
    ], recorded_at=day2)  # fmt: skip
    return user, wf, first["id"], second["id"]


async def test_costs_per_call_day_and_workflow(client, make_user, server, priced):
    user, wf, first, second = await _usage(client, server, make_user)
    params = {"from": "2026-04-01T00:00:00Z", "to": "2026-04-03T00:00:00Z"}

    by_day = (await client.get("/api/v1/usage", params=params, headers=user.headers)).json()
    assert by_day["currency"] == "EUR"
    costs = {g["key"]: g["cost"] for g in by_day["groups"]}
    assert costs == {"2026-04-01": pytest.approx(4.04), "2026-04-02": pytest.approx(0.12)}
    assert by_day["cost"] == pytest.approx(4.16)
    lines = {(ln["kind"], ln["model"]): ln["cost"] for ln in by_day["groups"][0]["lines"]}
    assert lines[("llm_output_tokens", "gpt-big")] == pytest.approx(2.0)
    assert lines[("llm_input_tokens", "gpt-small")] == pytest.approx(0.5)

    by_wf = (await client.get("/api/v1/usage", params={**params, "group_by": "workflow"},
                              headers=user.headers)).json()  # fmt: skip
    assert {g["key"]: g["cost"] for g in by_wf["groups"]} == {
        wf: pytest.approx(4.04), "": pytest.approx(0.12)}  # fmt: skip

    by_call = (await client.get("/api/v1/usage", params={**params, "group_by": "call"},
                                headers=user.headers)).json()  # fmt: skip
    assert {g["key"] for g in by_call["groups"]} == {str(first), str(second)}

    detail = (await client.get(f"/api/v1/calls/{first}", headers=user.headers)).json()
    assert detail["currency"] == "EUR"
    assert detail["cost"] == pytest.approx(4.04)
    assert {u["kind"]: u["cost"] for u in detail["usage"]}["stt_seconds"] == pytest.approx(0.3)


async def test_unpriced_usage_costs_zero(client, make_user, server):
    user, _wf, first, _second = await _usage(client, server, make_user)
    detail = (await client.get(f"/api/v1/calls/{first}", headers=user.headers)).json()
    assert detail["cost"] == 0 and detail["currency"] == "USD"


async def test_csv_export_is_a_streamed_attachment(client, make_user, server, priced):
    user, wf, _first, _second = await _usage(client, server, make_user)
    other = await make_user()  # another organization's export is empty, not this one's
    params = {"from": "2026-04-01T00:00:00Z", "to": "2026-04-03T00:00:00Z", "format": "csv",
              "group_by": "workflow"}  # fmt: skip
    response = await client.get("/api/v1/usage", params=params, headers=user.headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        'attachment; filename="usage-workflow-20260401-20260403.csv"')  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == ["group", "kind", "provider", "model", "quantity", "unit", "cost",
                             "currency"]  # fmt: skip
    assert len(rows) == 7
    big = next(r for r in rows if r["model"] == "gpt-big")
    assert (big["group"], big["quantity"], big["unit"], big["cost"], big["currency"]) == (
        wf, "100", "token", "2.000000", "EUR")  # fmt: skip
    assert sum(float(r["cost"]) for r in rows) == pytest.approx(4.16)

    empty = await client.get("/api/v1/usage", params=params, headers=other.headers)
    assert empty.text.strip().splitlines() == ["group,kind,provider,model,quantity,unit,cost,currency"]
    bad = await client.get("/api/v1/usage", params={**params, "format": "xml"}, headers=user.headers)
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["pointer"] == "/query/format"
    backwards = {**params, "from": "2026-04-03T00:00:00Z", "to": "2026-04-01T00:00:00Z"}
    assert (await client.get("/api/v1/usage", params=backwards, headers=user.headers)).status_code == 400


def test_price_lookup_prefers_the_model_and_rejects_bad_lists():
    assert PRICES.unit_price("llm_output_tokens", "openai", "gpt-big") == pytest.approx(0.02)
    assert PRICES.unit_price("llm_output_tokens", "openai", "other") == pytest.approx(0.002)
    assert PRICES.unit_price("stt_seconds", "nobody", None) == 0
    # a provider's price for another kind does not leak: the carrier's TTS price is its own
    assert PRICES.cost("tts_characters", "espeak", None, 1000) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        Pricing.model_validate({"providers": {"x": {"stt_per_minute": -1}}})
    with pytest.raises(ValueError):
        Pricing.model_validate({"providers": {"x": {"per_second": 1}}})
