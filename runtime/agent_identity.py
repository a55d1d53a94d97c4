"""openai-agents' agent identity map without a signature of every agent on every turn.

openai-agents names each agent of a run in its resumable state (``RunState``); two agents
with the same name are told apart by a JSON signature of their whole configuration
(instructions, model settings, tools, handoffs, guardrails). It builds that map at least
twice per streamed turn (the tool-use tracker's snapshot and the sandbox session manager,
both through ``_build_agent_identity_map``) and, because it sorts every name's group by
that signature, signs every agent even when each name is unique and the map cannot depend
on it: ~0.8 ms of CPU of an ~8 ms agent turn, on the call's event loop (BENCHMARKS.md,
"Per-call CPU work", step 12).

``install`` wraps the library's function: a graph whose names are all unique gets
``{name: agent}`` in the library's traversal order, which is the map the library builds for
it; a graph with a repeated name goes to the library unchanged. Switchboard never restores
a ``RunState``, but the keys stay the library's either way.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from agents import _run_state_agent_identity as identity

IdentityMap = Callable[[Any], dict[str, Any]]

_library: IdentityMap = identity._build_agent_identity_map


def unique_names_map(initial_agent: Any) -> dict[str, Any]:
    """The library's identity map of ``initial_agent``'s graph, without signatures when no
    two agents share a name."""
    agents = list(identity._iter_agent_graph(initial_agent))
    by_name = {agent.name: agent for agent in agents}
    if len(by_name) == len(agents):
        return by_name
    return _library(initial_agent)


def holders(function: IdentityMap) -> list[str]:
    """The openai-agents modules whose ``_build_agent_identity_map`` is ``function``."""
    return [
        name
        for name, module in list(sys.modules.items())
        if (name == "agents" or name.startswith("agents."))
        and getattr(module, "_build_agent_identity_map", None) is function
    ]


def use(function: IdentityMap) -> None:
    """Make every openai-agents module that calls the map call ``function`` (the library's
    or ``unique_names_map``)."""
    other = _library if function is unique_names_map else unique_names_map
    for name in holders(other):
        sys.modules[name]._build_agent_identity_map = function  # type: ignore[attr-defined]


def install() -> None:
    """Use ``unique_names_map`` wherever openai-agents' modules call the map (idempotent)."""
    use(unique_names_map)
