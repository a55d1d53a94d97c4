"""Recording configuration: ``RECORDINGS_URL`` parsing (bad values stop the server with the
variable named), where a call's recording is written, the per-workflow ``settings.recording``
switch and the ``Range`` header the S3 path passes on."""

from __future__ import annotations

import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from runtime.workflow import CallSettings, Workflow
from server.recordings.location import (
    FileLocation,
    S3Location,
    parse_recordings_url,
    parse_stored_url,
)
from server.recordings.policy import should_record
from server.recordings.serve import single_range
from server.recordings.store import RecordingStore
from server.settings import SettingsError, load_settings


@pytest.mark.parametrize(("url", "expected"), [
    ("file:///var/lib/switchboard/recordings", FileLocation(Path("/var/lib/switchboard/recordings"))),
    ("s3://voice-recordings", S3Location("voice-recordings", "")),
    ("s3://voice-recordings/prod/calls/", S3Location("voice-recordings", "prod/calls")),
])  # fmt: skip
def test_recordings_url_forms(url, expected):
    assert parse_recordings_url(url) == expected


@pytest.mark.parametrize("url", [
    "recordings", "/var/lib/recordings", "file://relative/dir", "file:relative", "http://x/y",
    "s3://", "s3://UPPER", "s3://ok-bucket/a b", "s3://ok-bucket/x?versionId=1", "gs://bucket",
])  # fmt: skip
def test_bad_recordings_urls_stop_the_server_naming_the_variable(url):
    with pytest.raises(SettingsError, match="RECORDINGS_URL"):
        load_settings(_env_file=None, recordings_url=url)


def test_stored_locations_round_trip():
    for location in (FileLocation(Path("/data/recordings/o/c.wav")), S3Location("b-1", "p/o/c.wav")):
        assert parse_stored_url(location.url()) == location
    # rows written before this migration hold the recording's path as it was written
    assert parse_stored_url("file://.data/recordings/o/c.wav") == FileLocation(
        Path(".data/recordings/o/c.wav")
    )
    with pytest.raises(ValueError):
        parse_stored_url("s3://bucket-only")


def test_where_the_pipeline_writes(tmp_path):
    org, call = uuid.uuid4(), uuid.uuid4()
    local = RecordingStore(load_settings(_env_file=None, data_dir=tmp_path))
    assert not local.remote
    assert local.spool_path(org, call) == tmp_path.resolve() / "recordings" / str(org) / f"{call}.wav"
    shared = RecordingStore(load_settings(_env_file=None, data_dir=tmp_path,
                                          recordings_url="file:///mnt/recordings"))  # fmt: skip
    assert shared.spool_path(org, call) == Path(f"/mnt/recordings/{org}/{call}.wav")
    s3 = RecordingStore(load_settings(_env_file=None, data_dir=tmp_path,
                                      recordings_url="s3://bucket-1/calls"))  # fmt: skip
    assert s3.remote
    assert s3.spool_path(org, call) == tmp_path.resolve() / "recordings-spool" / str(org) / f"{call}.wav"


def test_workflow_recording_setting_is_a_strict_boolean():
    assert CallSettings().recording is True
    assert CallSettings.model_validate({"recording": False}).recording is False
    for bad in ("no", 0, None):
        with pytest.raises(ValidationError) as caught:
            CallSettings.model_validate({"recording": bad})
        assert caught.value.errors()[0]["loc"] == ("recording",)
    schema = Workflow.model_json_schema()
    assert schema["examples"][0]["settings"]["recording"] is True


@pytest.mark.parametrize(("admitted", "workflow", "expected"), [
    (True, None, True), (True, CallSettings(), True),
    (True, CallSettings(recording=False), False), (False, CallSettings(), False),
])  # fmt: skip
def test_who_decides_a_call_is_recorded(admitted, workflow, expected):
    """Admission (RECORD_CALLS / the request, within the plan) and the workflow must agree."""
    assert should_record(SimpleNamespace(record=admitted), workflow) is expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("header", "expected"), [
    (None, None), ("bytes=0-99", "bytes=0-99"), ("bytes=100-", "bytes=100-"),
    ("bytes=-500", "bytes=-500"), ("bytes = 5-9", "bytes=5-9"),
    ("bytes=0-9,20-29", None), ("bytes=9-0", None), ("items=0-9", None), ("bytes=-", None),
    ("bytes=x-y", None),
])  # fmt: skip
def test_one_byte_range_is_passed_on_anything_else_serves_the_whole_file(header, expected):
    assert single_range(header) == expected
