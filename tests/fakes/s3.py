"""An S3 wire-protocol server on 127.0.0.1: moto in server mode (``ThreadedMotoServer``).

The server's real boto3 client talks to it over HTTP like to any S3-compatible store
(``S3_ENDPOINT_URL``). ``s3_server`` is a session fixture (import ``s3_server_fixture`` into
a test module to use it);
``FakeS3.client()`` is a boto3 client for the test's own checks and bucket set-up.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

# moto accepts any credentials; the server's client reads the standard AWS variables.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "switchboard-test", "AWS_SECRET_ACCESS_KEY": "switchboard-test"}
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class FakeS3:
    endpoint_url: str
    region: str = REGION

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint_url, region_name=self.region,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            config=Config(s3={"addressing_style": "path"}),
        )  # fmt: skip

    def new_bucket(self, *, create: bool = True) -> str:
        name = f"rec-{uuid.uuid4().hex[:12]}"
        if create:
            self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> list[str]:
        listed = self.client().list_objects_v2(Bucket=bucket)
        return sorted(item["Key"] for item in listed.get("Contents", []))

    def settings(self, bucket: str, prefix: str = "calls") -> dict[str, Any]:
        """Settings overrides pointing a server at ``bucket`` on this fake."""
        return {"recordings_url": f"s3://{bucket}/{prefix}", "s3_endpoint_url": self.endpoint_url,
                "s3_region": self.region}  # fmt: skip


@pytest.fixture(scope="session", name="s3_server")
def s3_server_fixture() -> Iterator[FakeS3]:
    from moto.server import ThreadedMotoServer

    saved = {name: os.environ.get(name) for name in (*CREDENTIALS, "AWS_PROFILE")}
    os.environ.update(CREDENTIALS)
    os.environ.pop("AWS_PROFILE", None)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield FakeS3(f"http://127.0.0.1:{port}")
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
