"""The agent identity map without per-turn signatures is the library's map
(runtime/agent_identity.py)."""

from __future__ import annotations

import sys

import pytest
from agents import Agent, handoff
from agents import _run_state_agent_identity as identity

from runtime import agent_identity
from runtime.agent_identity import _library, unique_names_map
from runtime.warm_up import exercise_model_stack


def _graph(*, repeat_name: bool) -> Agent:
    leaf = Agent(name="bye", instructions="Say goodbye.")
    other = Agent(name="bye" if repeat_name else "billing", instructions="Talk about bills.")
    return Agent(name="start", instructions="Help.", handoffs=[leaf, handoff(other)])


@pytest.mark.parametrize("repeat_name", [False, True])
def test_the_map_is_the_librarys(repeat_name: bool) -> None:
    root = _graph(repeat_name=repeat_name)
    ours, theirs = unique_names_map(root), _library(root)
    assert list(ours) == list(theirs)  # same keys in the same order
    assert all(ours[k] is theirs[k] for k in theirs)
    if repeat_name:
        assert list(theirs) == ["start", "bye", "bye#2"]


def _signatures(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    signed: list[object] = []
    library_signature = identity._agent_identity_signature

    def counting(agent: object) -> str:
        signed.append(agent)
        return library_signature(agent)

    monkeypatch.setattr(identity, "_agent_identity_signature", counting)
    return signed


async def test_a_streamed_turn_signs_no_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    import runtime.sessions  # noqa: F401  (installs the map, as every call does)

    signed = _signatures(monkeypatch)
    assert await exercise_model_stack() == "Warm up done."
    assert signed == []


async def test_without_it_the_library_signs_every_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in agent_identity.holders(unique_names_map):  # the library's function everywhere
        monkeypatch.setattr(sys.modules[name], "_build_agent_identity_map", _library)
    signed = _signatures(monkeypatch)
    assert await exercise_model_stack() == "Warm up done."
    assert len(signed) >= 2  # what install() takes off each turn
    agent_identity.install()
    signed.clear()
    assert await exercise_model_stack() == "Warm up done."
    assert signed == []
