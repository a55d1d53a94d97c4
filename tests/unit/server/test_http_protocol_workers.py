"""``switchboard serve --workers N``: uvicorn pickles its config, protocol class included,
into each spawned worker process. The served protocol classes must survive that, with the
request-head bound they enforce."""

from __future__ import annotations

import pickle

import uvicorn

from server.http_protocol import http_protocol_options


def test_the_served_protocol_pickles_with_its_bound() -> None:
    config = uvicorn.Config("server.app:create_app", factory=True, workers=2,
                            **http_protocol_options(4096))  # fmt: skip
    copy = pickle.loads(pickle.dumps(config))  # noqa: S301 - our own bytes, as uvicorn does
    assert copy.http is config.http
    assert copy.h11_max_incomplete_event_size == 4096
