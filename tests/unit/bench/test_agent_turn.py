"""``bench.agent_turn --compare`` switches the named shortcut of ``runtime`` off and on."""

from __future__ import annotations

import sys

import runtime.sessions  # noqa: F401  (installs the identity map)
from bench.agent_turn import switch
from runtime.agent_identity import _library, unique_names_map


def _holders(function: object) -> set[str]:
    held = {n: getattr(m, "_build_agent_identity_map", None) for n, m in list(sys.modules.items())}
    return {name for name, f in held.items() if name.startswith("agents") and f is function}


def test_identity_off_and_on() -> None:
    installed = _holders(unique_names_map)
    assert "agents._run_state_agent_identity" in installed
    try:
        switch("identity", False)
        assert _holders(unique_names_map) == set() and _holders(_library) == installed
    finally:
        switch("identity", True)
    assert _holders(unique_names_map) == installed


def test_chunks_off_and_on() -> None:
    from runtime import openai_client

    try:
        switch("chunks", False)
        assert not openai_client.VALIDATED
    finally:
        switch("chunks", True)
    assert set(openai_client.VALIDATED) == {openai_client.ChatCompletionChunk}
