"""Recordings of real calls: a browser call answered by instance A is recorded, uploaded to
the S3 server on 127.0.0.1 when it ends, and plays through instance B (which never had the
file); a workflow with ``settings.recording: false`` records nothing."""

from __future__ import annotations

import asyncio
import io
import uuid
import wave

import httpx
import numpy as np

from tests.fakes.s3 import FakeS3, s3_server_fixture  # noqa: F401 - the s3_server fixture
from tests.integration.server.test_recordings_storage import instance
from tests.realtime.pipeline.test_pipeline_call import WORKFLOW
from tests.realtime.server.test_webrtc_calls import connect, publish_workflow, wait_for_end


async def _short_call(http: httpx.AsyncClient, headers: dict, workflow_id: str) -> dict:
    caller, call_id = await connect(http, headers, workflow_id)
    try:
        await caller.wait_for_speech(frames=25, timeout=60)  # the greeting
    finally:
        await caller.close()  # the caller hangs up
    return await wait_for_end(http, headers, call_id)


async def test_a_call_recorded_on_one_instance_plays_through_another(
    server, make_user, s3_server: FakeS3, run_dir
):  # fmt: skip
    bucket = s3_server.new_bucket()
    user = await make_user()
    async with instance(server, run_dir / "rt-a", **s3_server.settings(bucket)) as a, \
            instance(server, run_dir / "rt-b", **s3_server.settings(bucket)) as b, \
            httpx.AsyncClient(base_url=a.url, timeout=30) as on_a, \
            httpx.AsyncClient(base_url=b.url, timeout=30) as on_b:  # fmt: skip
        workflow_id = await publish_workflow(on_a, user.headers, WORKFLOW)
        call = await _short_call(on_a, user.headers, workflow_id)
        assert call["has_recording"] is True
        url = f"/api/v1/calls/{call['id']}/recording"
        async with asyncio.timeout(30):
            while (got := await on_b.get(url, headers=user.headers)).status_code == 409:
                await asyncio.sleep(0.2)  # recording_pending: A is still uploading
        assert got.status_code == 200, got.text
        with wave.open(io.BytesIO(got.content)) as wav:
            assert wav.getnchannels() == 2
            samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
        assert np.abs(samples[1::2]).max() > 1000  # the agent's greeting, on the right
        assert s3_server.keys(bucket) == [f"calls/{user.organization_id}/{call['id']}.wav"]
        assert not list((run_dir / "rt-a" / "recordings-spool").rglob("*.wav"))  # uploaded
        assert not (run_dir / "rt-b" / "recordings-spool").exists()


async def test_a_workflow_can_turn_recording_off(server, client, make_user):
    user = await make_user()
    definition = {**WORKFLOW, "settings": {**WORKFLOW["settings"], "recording": False}}
    workflow_id = await publish_workflow(client, user.headers, definition)
    call = await _short_call(client, user.headers, workflow_id)
    assert call["status"] == "completed" and call["has_recording"] is False
    got = await client.get(f"/api/v1/calls/{call['id']}/recording", headers=user.headers)
    assert got.status_code == 404
    org_dir = server.services.recordings.spool_path(uuid.UUID(user.organization_id),
                                                    uuid.UUID(call["id"])).parent  # fmt: skip
    assert not org_dir.exists() or not list(org_dir.iterdir())
