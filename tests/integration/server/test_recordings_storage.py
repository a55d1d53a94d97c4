"""Recordings in object storage: a finished call's recording is uploaded to an S3 server on
127.0.0.1 (moto in server mode, spoken to by the server's real boto3 client), served through
the API by any instance, deleted, expired by the retention sweep, retried until the store
takes it (the local file kept until then), and invisible to other organizations.

Each case stores a real WAV exactly as a call's end does (``Services.recordings.call_ended``,
called by the session's finalize step) on a call row made through ``db/calls.py``.
"""

from __future__ import annotations

import contextlib
import io
import math
import struct
import uuid
import wave
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from db import calls as calls_db
from server.jobs.registry import SCHEDULES
from server.recordings.retention import sweep_expired_recordings
from tests.conftest import LiveServer, make_settings, run_server
from tests.fakes.s3 import FakeS3, s3_server_fixture  # noqa: F401 - the s3_server fixture


def wav_bytes(seconds: float = 1.0, rate: int = 8000) -> bytes:
    """A stereo WAV like a call's (a tone on the left, silence on the right)."""
    frames = b"".join(
        struct.pack("<hh", int(8000 * math.sin(2 * math.pi * 440 * i / rate)), 0)
        for i in range(int(seconds * rate))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(frames)
    return out.getvalue()


@contextlib.asynccontextmanager
async def instance(server: LiveServer, data_dir: Path, **overrides: Any) -> AsyncIterator[LiveServer]:
    """Another Switchboard instance on the same database, with its own data directory (so
    its own local disk) and the fleet's keys."""
    data_dir.mkdir(parents=True, exist_ok=True)
    base = server.services.settings
    keys = {"jwt_private_key": (base.data_dir / "jwt_ed25519.pem").read_text(),
            "secrets_key": (base.data_dir / "secrets.key").read_text().strip()}  # fmt: skip
    settings = make_settings(base.database_url, data_dir, warmup=False, jobs_enabled=False,
                             recording_upload_retry_seconds=0.2, **keys, **overrides)  # fmt: skip
    async with run_server(settings) as live:
        yield live


async def ended_call(live: LiveServer, organization_id: str, *, ended_at: datetime | None = None,
                     audio: bytes | None = None) -> tuple[str, Path]:  # fmt: skip
    """A browser call that ended with a recording written where the pipeline writes it."""
    org = uuid.UUID(organization_id)
    row = await calls_db.create(
        live.services.db, org, workflow_id=None, workflow_version=None, channel="webrtc",
        direction="browser", from_number=None, to_number=None, status="in-progress",
        carrier=None, carrier_call_id=None, test=True, variables={}, metadata={},
    )  # fmt: skip
    path = live.services.recordings.spool_path(org, row["id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(audio if audio is not None else wav_bytes())
    await calls_db.finalize(live.services.db, row["id"], status="completed",
                            end_reason="caller_hangup", ended_at=ended_at,
                            recording_path=str(path))  # fmt: skip
    return str(row["id"]), path


async def store(live: LiveServer, organization_id: str, call_id: str, path: Path) -> None:
    """What the session does when the call ends, then wait for the upload."""
    live.services.recordings.call_ended(uuid.UUID(organization_id), uuid.UUID(call_id), path)
    assert await live.services.recordings.wait_idle(20)


async def fetch(live: LiveServer, path: str, headers: dict[str, str], **kw: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
        return await http.request(kw.pop("method", "GET"), path, headers=headers, **kw)


async def test_a_recording_is_uploaded_and_any_instance_serves_it(
    server, make_user, s3_server: FakeS3, run_dir
):  # fmt: skip
    bucket = s3_server.new_bucket()
    user = await make_user()
    audio = wav_bytes(2.0)
    async with instance(server, run_dir / "a1", **s3_server.settings(bucket)) as a, \
            instance(server, run_dir / "b1", **s3_server.settings(bucket)) as b:  # fmt: skip
        call_id, local = await ended_call(a, user.organization_id, audio=audio)
        assert local.is_relative_to(run_dir / "a1")  # written on A's own disk
        await store(a, user.organization_id, call_id, local)

        key = f"calls/{user.organization_id}/{call_id}.wav"
        assert s3_server.keys(bucket) == [key]
        assert s3_server.client().get_object(Bucket=bucket, Key=key)["Body"].read() == audio
        assert not local.exists()  # removed once the upload was verified
        for live in (a, b):  # B never had the file: it streams it from the store
            got = await fetch(live, f"/api/v1/calls/{call_id}/recording", user.headers)
            assert got.status_code == 200, got.text
            assert got.headers["content-type"] == "audio/wav"
            assert got.content == audio
            with wave.open(io.BytesIO(got.content)) as wav:
                assert (wav.getnchannels(), wav.getframerate()) == (2, 8000)
        part = await fetch(
            b, f"/api/v1/calls/{call_id}/recording", {**user.headers, "Range": "bytes=44-1043"}
        )
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 44-1043/{len(audio)}"
        assert part.content == audio[44:1044]
        beyond = await fetch(
            b, f"/api/v1/calls/{call_id}/recording", {**user.headers, "Range": f"bytes={len(audio) + 10}-"}
        )
        assert beyond.status_code == 416
        assert beyond.headers["content-range"] == f"bytes */{len(audio)}"
        detail = await fetch(b, f"/api/v1/calls/{call_id}", user.headers)
        assert detail.json()["has_recording"] is True


async def test_another_organization_gets_404_and_cannot_delete(
    server, make_user, s3_server: FakeS3, run_dir
):  # fmt: skip
    bucket = s3_server.new_bucket()
    owner, intruder = await make_user(), await make_user()
    async with instance(server, run_dir / "a2", **s3_server.settings(bucket)) as a:
        call_id, local = await ended_call(a, owner.organization_id)
        await store(a, owner.organization_id, call_id, local)
        url = f"/api/v1/calls/{call_id}/recording"
        for method in ("GET", "DELETE"):
            got = await fetch(a, url, intruder.headers, method=method)
            assert got.status_code == 404, got.text
            assert got.json()["error"]["code"] == "not_found"
        assert len(s3_server.keys(bucket)) == 1
        assert (await fetch(a, url, owner.headers)).status_code == 200


async def test_delete_removes_the_object_and_is_audited(
    server, make_user, s3_server: FakeS3, run_dir
):  # fmt: skip
    bucket = s3_server.new_bucket()
    user = await make_user()
    async with instance(server, run_dir / "a3", **s3_server.settings(bucket)) as a:
        call_id, local = await ended_call(a, user.organization_id)
        await store(a, user.organization_id, call_id, local)
        url = f"/api/v1/calls/{call_id}/recording"
        gone = await fetch(a, url, user.headers, method="DELETE")
        assert gone.status_code == 204, gone.text
        assert s3_server.keys(bucket) == []
        assert (await fetch(a, url, user.headers)).status_code == 404
        assert (await fetch(a, url, user.headers, method="DELETE")).status_code == 404
        detail = (await fetch(a, f"/api/v1/calls/{call_id}", user.headers)).json()
        assert detail["has_recording"] is False and detail["status"] == "completed"
        audit = (await fetch(a, "/api/v1/audit-log", user.headers)).json()
        entries = audit["items"] if isinstance(audit, dict) else audit
        assert any(e["action"] == "call.recording_deleted" and e["target_id"] == call_id
                   for e in entries)  # fmt: skip


async def test_a_failed_upload_is_retried_and_the_local_file_kept_until_it_succeeds(
    server, make_user, s3_server: FakeS3, run_dir
):  # fmt: skip
    bucket = s3_server.new_bucket(create=False)  # the store refuses: NoSuchBucket
    user = await make_user()
    async with instance(server, run_dir / "a4", **s3_server.settings(bucket)) as a, \
            instance(server, run_dir / "b4", **s3_server.settings(bucket)) as b:  # fmt: skip
        call_id, local = await ended_call(a, user.organization_id)
        audio = local.read_bytes()
        recordings = a.services.recordings
        recordings.call_ended(uuid.UUID(user.organization_id), uuid.UUID(call_id), local)
        assert not await recordings.wait_idle(1.0)  # still retrying (0.2 s, 0.4 s, ...)
        assert local.read_bytes() == audio
        url = f"/api/v1/calls/{call_id}/recording"
        pending = await fetch(b, url, user.headers)  # B has no copy yet
        assert pending.status_code == 409
        assert pending.json()["error"]["code"] == "recording_pending"
        assert (await fetch(a, url, user.headers)).content == audio  # A serves its own copy

        s3_server.client().create_bucket(Bucket=bucket)  # the store is back
        assert await recordings.wait_idle(20)
        assert not local.exists()
        assert s3_server.keys(bucket) == [f"calls/{user.organization_id}/{call_id}.wav"]
        assert (await fetch(b, url, user.headers)).content == audio


async def test_spooled_recordings_are_uploaded_when_an_instance_starts(
    server, make_user, s3_server: FakeS3, run_dir
):  # fmt: skip
    """An instance that stopped before its upload succeeded uploads it when it starts again."""
    bucket = s3_server.new_bucket(create=False)
    user = await make_user()
    async with instance(server, run_dir / "a5", **s3_server.settings(bucket)) as a:
        call_id, local = await ended_call(a, user.organization_id)
        a.services.recordings.call_ended(uuid.UUID(user.organization_id), uuid.UUID(call_id),
                                         local)  # fmt: skip
        assert not await a.services.recordings.wait_idle(0.5)
    assert local.exists()  # shut down with the upload still failing: kept in the spool
    s3_server.client().create_bucket(Bucket=bucket)
    async with instance(server, run_dir / "a5", **s3_server.settings(bucket)) as again:
        assert await again.services.recordings.wait_idle(20)
        assert not local.exists()
        got = await fetch(again, f"/api/v1/calls/{call_id}/recording", user.headers)
        assert got.status_code == 200


async def test_the_retention_sweep_deletes_expired_recordings_and_marks_their_calls(
    server, make_user, s3_server: FakeS3, run_dir
):  # fmt: skip
    assert any(s.run is sweep_expired_recordings for s in SCHEDULES)  # the worker runs it
    bucket = s3_server.new_bucket()
    user = await make_user()
    async with instance(server, run_dir / "a6", recording_retention_days=30,
                        **s3_server.settings(bucket)) as a:  # fmt: skip
        old_id, old_path = await ended_call(
            a, user.organization_id, ended_at=datetime.now(UTC) - timedelta(days=31)
        )
        new_id, new_path = await ended_call(a, user.organization_id)
        await store(a, user.organization_id, old_id, old_path)
        await store(a, user.organization_id, new_id, new_path)

        assert await sweep_expired_recordings(a.services) >= 1
        assert s3_server.keys(bucket) == [f"calls/{user.organization_id}/{new_id}.wav"]
        with pytest.raises(ClientError):
            s3_server.client().head_object(Bucket=bucket, Key=f"calls/{user.organization_id}/{old_id}.wav")
        assert (await fetch(a, f"/api/v1/calls/{old_id}/recording", user.headers)).status_code == 404
        old = (await fetch(a, f"/api/v1/calls/{old_id}", user.headers)).json()
        assert old["has_recording"] is False
        assert (await fetch(a, f"/api/v1/calls/{new_id}/recording", user.headers)).status_code == 200
        assert await sweep_expired_recordings(a.services) == 0  # nothing left to expire


async def test_local_directory_store_serves_ranges_and_deletes(server, client, make_user):
    """The default (RECORDINGS_URL unset): recordings stay in DATA_DIR/recordings."""
    user = await make_user()
    call_id, local = await ended_call(server, user.organization_id)
    assert local.parent.parent == Path(server.services.settings.data_dir).resolve() / "recordings"
    await store(server, user.organization_id, call_id, local)
    assert local.exists()  # the file is where it is stored
    url = f"/api/v1/calls/{call_id}/recording"
    part = await client.get(url, headers={**user.headers, "Range": "bytes=0-43"})
    assert part.status_code == 206 and part.content == local.read_bytes()[:44]
    assert (await client.delete(url, headers=user.headers)).status_code == 204
    assert not local.exists()
    assert (await client.get(url, headers=user.headers)).status_code == 404


async def test_a_recording_deleted_while_its_upload_is_pending_does_not_come_back(
    server, make_user, s3_server: FakeS3, run_dir
):  # fmt: skip
    """Deleted through B while A still retries the upload: A's upload, once the store takes
    it, finds the recording deleted and removes both the object and its local copy."""
    bucket = s3_server.new_bucket(create=False)
    user = await make_user()
    async with instance(server, run_dir / "a7", **s3_server.settings(bucket)) as a, \
            instance(server, run_dir / "b7", **s3_server.settings(bucket)) as b:  # fmt: skip
        call_id, local = await ended_call(a, user.organization_id)
        a.services.recordings.call_ended(uuid.UUID(user.organization_id), uuid.UUID(call_id),
                                         local)  # fmt: skip
        assert not await a.services.recordings.wait_idle(0.5)
        url = f"/api/v1/calls/{call_id}/recording"
        assert (await fetch(b, url, user.headers, method="DELETE")).status_code == 204
        assert local.exists()  # B cannot reach A's disk

        s3_server.client().create_bucket(Bucket=bucket)
        assert await a.services.recordings.wait_idle(20)
        assert s3_server.keys(bucket) == []
        assert not local.exists()
        assert (await fetch(a, url, user.headers)).status_code == 404
