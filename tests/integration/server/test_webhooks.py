"""Webhooks CRUD, signed delivery with retries, the job queue, and post-call analysis.

The flow under test is the real one: a finished call is handed to ``enqueue_post_call``;
the server's job worker runs ``call.ended`` (webhook fan-out) and ``call.analyze`` (offline
extraction from the stored transcript), and delivers signed events to a local receiver that
fails the first two attempts of every delivery.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from aiohttp import web

from db import calls as calls_db
from db import jobs as jobs_db
from db import usage as usage_db
from runtime.egress import EgressPolicy
from runtime.templates import order_desk
from server.jobs import enqueue_post_call
from server.jobs.registry import HANDLERS
from server.jobs.webhooks import DeliveryFailed, check_destination, sign, verify
from server.jobs.worker import backoff_seconds
from tests.fakes import LoopbackServer
from tests.fakes.openai_server import FakeOpenAI, say


class Receiver(LoopbackServer):
    """A customer's endpoint: fails the first ``failures`` attempts of each delivery."""

    def __init__(self, failures: int = 2) -> None:
        super().__init__()
        self.failures = failures
        self.requests: list[dict[str, Any]] = []
        self.app.router.add_post("/hook", self._hook)

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        delivery = request.headers["X-Switchboard-Delivery"]
        self.requests.append({"headers": dict(request.headers), "body": body})
        seen = sum(1 for r in self.requests if r["headers"]["X-Switchboard-Delivery"] == delivery)
        return web.Response(status=500 if seen <= self.failures else 200)

    def delivered(self, event: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["headers"]["X-Switchboard-Event"] == event]


@pytest.fixture
async def fast_retries(server) -> AsyncIterator[None]:  # type: ignore[no-untyped-def]
    worker = server.services.job_worker
    original = worker.retry_base
    worker.retry_base = 0.05
    yield
    worker.retry_base = original


async def _wait_for(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)


async def test_webhook_crud_and_tenant_isolation(client, make_user) -> None:  # type: ignore[no-untyped-def]
    owner, other = await make_user(), await make_user()
    created = await client.post("/api/v1/webhooks", headers=owner.headers, json={
        "url": "https://example.com/hook", "events": ["call.ended"]})
    assert created.status_code == 201, created.text
    hook = created.json()
    assert hook["secret"].startswith("whsec_")
    base = f"/api/v1/webhooks/{hook['id']}"
    listed = await client.get("/api/v1/webhooks", headers=owner.headers)
    assert [h["id"] for h in listed.json()] == [hook["id"]] and "secret" not in listed.json()[0]
    patched = await client.patch(base, headers=owner.headers,
                                 json={"events": ["call.analyzed", "call.ended"],
                                       "rotate_secret": True})
    assert patched.json()["events"] == ["call.analyzed", "call.ended"]
    assert patched.json()["secret"] != hook["secret"]
    bad = await client.post("/api/v1/webhooks", headers=owner.headers,
                            json={"url": "https://x.example", "events": ["call.exploded"]})
    assert bad.status_code == 422

    for method, path, body in [("GET", base, None), ("PATCH", base, {"active": False}),
                               ("DELETE", base, None), ("GET", f"{base}/deliveries", None)]:
        response = await client.request(method, path, json=body, headers=other.headers)
        assert response.status_code == 404, (method, path)
    assert (await client.get("/api/v1/webhooks", headers=other.headers)).json() == []
    assert (await client.get(base, headers=owner.headers)).json()["active"] is True

    assert (await client.delete(base, headers=owner.headers)).status_code == 204
    assert (await client.get(base, headers=owner.headers)).status_code == 404


async def test_call_end_to_signed_webhooks_with_retries_and_analysis(
    client, make_user, server, fast_retries  # type: ignore[no-untyped-def]
) -> None:
    user = await make_user()
    org = UUID(user.organization_id)
    wf = (await client.post("/api/v1/workflows", headers=user.headers,
                            json={"name": "Desk", "definition": order_desk()})).json()
    await client.post(f"/api/v1/workflows/{wf['id']}/publish", json={}, headers=user.headers)

    async with Receiver(failures=2) as receiver:
        hook = (await client.post("/api/v1/webhooks", headers=user.headers, json={
            "url": f"{receiver.http_url}/hook", "events": ["call.ended", "call.analyzed"],
        })).json()
        pool = server.services.db
        call = await calls_db.create(
            pool, org, workflow_id=UUID(wf["id"]), workflow_version=1, channel="webrtc",
            direction="browser", from_number=None, to_number=None, status="completed",
            carrier=None, carrier_call_id=None, test=False, variables={}, metadata={},
        )
        now = datetime.now(UTC)
        turns = [
            ("agent", "Hi there, this is Acme.", None),
            ("user", "I want to check my order 7781", None),
            ("tool", "lookup_order", {"name": "lookup_order",
                                      "arguments": {"order_number": "7781"},
                                      "result": '{"status": "shipped"}', "error": None}),
            ("agent", "It shipped.", None),
        ]
        await calls_db.insert_turns(pool, org, call["id"], [
            {"idx": i, "speaker": s, "text": t, "started_at": now, "ended_at": now,
             "interrupted": False, "tool": tool} for i, (s, t, tool) in enumerate(turns)
        ])
        await enqueue_post_call(server.services, org, call["id"])

        async def both_delivered() -> bool:
            response = await client.get(f"/api/v1/webhooks/{hook['id']}/deliveries",
                                        headers=user.headers)
            statuses = sorted((d["event"], d["status"]) for d in response.json())
            return statuses == [("call.analyzed", "delivered"), ("call.ended", "delivered")]

        await _wait_for(both_delivered)

    secret = hook["secret"]
    for request in receiver.requests:
        headers = request["headers"]
        assert verify(secret, headers["X-Switchboard-Timestamp"], request["body"],
                      headers["X-Switchboard-Signature"])
        assert not verify("whsec_wrong_secret_value", headers["X-Switchboard-Timestamp"],
                          request["body"], headers["X-Switchboard-Signature"])
    ended = json.loads(receiver.delivered("call.ended")[-1]["body"])
    assert ended["type"] == "call.ended" and ended["data"]["call_id"] == str(call["id"])
    assert ended["data"]["workflow_version"] == 1
    # Retries resend the same event (same id), so receivers can de-duplicate.
    assert len({json.loads(r["body"])["id"] for r in receiver.delivered("call.ended")}) == 1
    analyzed = json.loads(receiver.delivered("call.analyzed")[-1]["body"])
    assert analyzed["data"]["extracted"] == {"order_number": "7781", "topic": None}
    assert analyzed["data"]["engine"] == "offline-scripted"
    assert analyzed["data"]["missing_required"] == ["topic"]

    stored = await calls_db.get(server.services.db, org, call["id"])
    assert stored["extracted"] == {"order_number": "7781", "topic": None}
    assert stored["summary"].startswith("Offline summary")

    deliveries = (await client.get(f"/api/v1/webhooks/{hook['id']}/deliveries",
                                   headers=user.headers)).json()
    assert {d["event"] for d in deliveries} == {"call.ended", "call.analyzed"}
    for delivery in deliveries:
        assert delivery["status"] == "delivered"
        assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 200]
        assert [a["error"] for a in delivery["attempts"]] == ["HTTP 500", "HTTP 500", None]


async def test_failing_jobs_retry_then_give_up(server, fast_retries) -> None:  # type: ignore[no-untyped-def]
    calls: list[int] = []

    async def flaky(services: Any, job: Any) -> None:
        calls.append(job["attempts"])
        if job["payload"]["fail_times"] >= job["attempts"]:
            raise RuntimeError(f"boom {job['attempts']}")

    HANDLERS["test.flaky"] = flaky
    try:
        pool = server.services.db
        ok = await jobs_db.enqueue(pool, "test.flaky", {"fail_times": 2}, max_attempts=5)
        doomed = await jobs_db.enqueue(pool, "test.flaky", {"fail_times": 99}, max_attempts=3)
        server.services.job_worker.wake()

        async def settled() -> bool:
            rows = [await jobs_db.get(pool, ok["id"]), await jobs_db.get(pool, doomed["id"])]
            return all(r["status"] in ("done", "failed") for r in rows)

        await _wait_for(settled)
        done, failed = await jobs_db.get(pool, ok["id"]), await jobs_db.get(pool, doomed["id"])
    finally:
        HANDLERS.pop("test.flaky", None)
    assert (done["status"], done["attempts"]) == ("done", 3)
    assert (failed["status"], failed["attempts"]) == ("failed", 3)
    assert failed["last_error"] == "RuntimeError: boom 3"
    assert sorted(calls) == [1, 1, 2, 2, 3, 3]
    # Finished jobs are purged once old enough (here: immediately).
    assert await jobs_db.purge_finished(pool, older_than_seconds=0) >= 2
    assert await jobs_db.get(pool, ok["id"]) is None


def test_backoff_grows_exponentially_and_is_capped() -> None:
    delays = [backoff_seconds(10.0, attempt) for attempt in (1, 2, 3, 4)]
    for attempt, delay in enumerate(delays, start=1):
        assert 10.0 * 2 ** (attempt - 1) <= delay <= 10.0 * 2 ** (attempt - 1) * 1.1
    assert backoff_seconds(10.0, 30) <= 3600 * 1.1


def test_signature_format_and_replay_window() -> None:
    body = b'{"type":"call.ended"}'
    signature = sign("s3cret-s3cret-s3cret", 1_700_000_000, body)
    assert signature.startswith("v1=") and len(signature) == 3 + 64
    assert verify("s3cret-s3cret-s3cret", "1700000000", body, signature, now=1_700_000_100)
    assert not verify("s3cret-s3cret-s3cret", "1700000000", body, signature, now=1_700_001_000)
    assert not verify("s3cret-s3cret-s3cret", "1700000000", body + b" ", signature,
                      now=1_700_000_000)


async def test_private_destinations_blocked_unless_allowed() -> None:
    with pytest.raises(DeliveryFailed, match="non-public"):
        await check_destination("http://127.0.0.1:9/hook", egress=EgressPolicy())
    with pytest.raises(DeliveryFailed, match="http"):
        await check_destination("ftp://example.com/x", egress=EgressPolicy(allow_private=True))
    await check_destination("http://127.0.0.1:9/hook", egress=EgressPolicy(allow_private=True))


async def test_analysis_with_a_model_stores_results_and_usage(client, make_user, server) -> None:  # type: ignore[no-untyped-def]
    user = await make_user()
    org = UUID(user.organization_id)
    definition = order_desk()
    definition["settings"] = {"llm": {"provider": "openai", "model": "gpt-test"}}
    wf = (await client.post("/api/v1/workflows", headers=user.headers,
                            json={"name": "Desk", "definition": definition})).json()
    async with FakeOpenAI() as fake:
        fake.script(say(json.dumps({"extracted": {"order_number": "31", "topic": "orders"},
                                    "summary": "Asked about order 31."}),
                        input_tokens=200, output_tokens=40))
        put = await client.put("/api/v1/provider-credentials/openai", headers=user.headers,
                               json={"api_key": "sk-test-000000001", "base_url": fake.base_url})
        assert put.status_code == 200, put.text
        # Publish after the key is stored: a cloud provider without a key is refused.
        published = await client.post(f"/api/v1/workflows/{wf['id']}/publish", json={},
                                      headers=user.headers)
        assert published.status_code == 201, published.text
        pool = server.services.db
        call = await calls_db.create(
            pool, org, workflow_id=UUID(wf["id"]), workflow_version=1, channel="webrtc",
            direction="browser", from_number=None, to_number=None, status="completed",
            carrier=None, carrier_call_id=None, test=False, variables={}, metadata={},
        )
        now = datetime.now(UTC)
        await calls_db.insert_turns(pool, org, call["id"], [
            {"idx": 0, "speaker": "user", "text": "where is order 31", "started_at": now,
             "ended_at": now, "interrupted": False},
        ])
        await enqueue_post_call(server.services, org, call["id"])

        async def analyzed() -> bool:
            row = await calls_db.get(pool, org, call["id"])
            return row["summary"] is not None

        await _wait_for(analyzed)
    row = await calls_db.get(pool, org, call["id"])
    assert row["extracted"] == {"order_number": "31", "topic": "orders"}
    assert row["summary"] == "Asked about order 31."
    assert "where is order 31" in json.dumps(fake.requests[0])
    assert fake.requests[0]["model"] == "gpt-test"

    async def usage_written() -> bool:
        return len(await usage_db.for_call(pool, org, call["id"])) == 2

    await _wait_for(usage_written)
    rows = await usage_db.for_call(pool, org, call["id"])
    assert [tuple(r) for r in rows] == [
        ("llm_input_tokens", "openai", "gpt-test (post-call analysis)", 200.0),
        ("llm_output_tokens", "openai", "gpt-test (post-call analysis)", 40.0),
    ]


class OrderedReceiver(LoopbackServer):
    """Records the order deliveries arrive in; holds org A's requests until released."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[str] = []
        self.release = asyncio.Event()
        self.app.router.add_post("/{org}", self._hook)

    async def _hook(self, request: web.Request) -> web.Response:
        org = request.match_info["org"]
        if org == "a":
            await self.release.wait()
        self.arrivals.append(org)
        return web.Response(status=200)


async def test_one_organizations_backlog_does_not_delay_another(  # type: ignore[no-untyped-def]
        client, make_user, server) -> None:
    from server.jobs.webhooks import emit_event

    busy, quiet = await make_user(), await make_user()
    async with OrderedReceiver() as receiver:
        hooks = {}
        for user, path in ((busy, "a"), (quiet, "b")):
            created = await client.post("/api/v1/webhooks", headers=user.headers, json={
                "url": f"{receiver.http_url}/{path}", "events": ["call.ended"]})
            assert created.status_code == 201, created.text
            hooks[path] = created.json()["id"]
        org_a, org_b = UUID(busy.organization_id), UUID(quiet.organization_id)
        for start in range(0, 2_000, 50):  # 2,000 events for A: the worker's slots fill up
            await asyncio.gather(*(emit_event(server.services, org_a, "call.ended", {"n": n})
                                   for n in range(start, start + 50)))
        await emit_event(server.services, org_b, "call.ended", {"n": 0})
        receiver.release.set()

        async def b_delivered() -> bool:
            return "b" in receiver.arrivals

        await _wait_for(b_delivered)
        concurrency = server.services.settings.jobs_concurrency
        # B's one delivery goes out right after the A deliveries already in flight.
        assert receiver.arrivals.index("b") <= concurrency + 1, receiver.arrivals[:20]
        # The rest of A's backlog becomes no-ops once its webhook is gone.
        deleted = await client.delete(f"/api/v1/webhooks/{hooks['a']}", headers=busy.headers)
        assert deleted.status_code == 204
