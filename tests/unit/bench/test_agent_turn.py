"""``bench.agent_turn --compare`` switches the named shortcut of ``runtime`` off and on."""

from __future__ import annotations

import runtime.sessions  # noqa: F401  (installs the identity map)
from bench.agent_turn import switch
from runtime.agent_identity import IdentityMap, _library, holders, unique_names_map


def _holders(function: IdentityMap) -> set[str]:
    return set(holders(function))


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
