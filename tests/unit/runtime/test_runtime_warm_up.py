"""The start-up warm-up streams a real agent turn through openai-agents without a network."""

from __future__ import annotations

import socket

from runtime.warm_up import exercise_model_stack


async def test_one_streamed_turn_runs_in_memory(monkeypatch):
    def no_network(*_args, **_kwargs):
        raise AssertionError("the warm-up must not open a connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    assert await exercise_model_stack() == "Warm up done."
