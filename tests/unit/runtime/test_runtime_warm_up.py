"""The start-up warm-up streams a real agent turn through openai-agents without a network."""

from __future__ import annotations

import socket
import sys

from runtime.egress import EgressPolicy
from runtime.warm_up import exercise_model_stack


async def test_one_streamed_turn_runs_in_memory(monkeypatch):
    def no_network(*_args, **_kwargs):
        raise AssertionError("the warm-up must not open a connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    assert await exercise_model_stack() == "Warm up done."
    assert "anyio._backends._asyncio" in sys.modules  # the LLM client's first connection needs it


def test_the_egress_policy_parses_its_tls_contexts_once_at_warm_up():
    policy = EgressPolicy()
    policy.warm()
    contexts = dict(policy._ssl)
    assert len(contexts) == 2  # httpx and the OpenAI SDK's httpx2
    policy.client()
    policy.openai_http_client()
    assert policy._ssl == contexts and all(policy._ssl[k] is contexts[k] for k in contexts)
