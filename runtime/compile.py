"""Compile a workflow into openai-agents ``Agent``s: one per node, edges as handoffs.

Compiled once per published version (cached by workflow id + version) and shared by every
call on that version: nothing per-call lives in the agents. Instructions are computed from
the run context (the call's variables and engine), and the model is chosen per run through
``RunConfig``, so one compiled graph serves OpenAI, OpenAI-compatible and offline sessions.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from agents import Agent, Handoff, RunContextWrapper, handoff

from runtime.languages import answer_in
from runtime.offline_model import OFFLINE_ENGINE, offline_line
from runtime.tools import CallContext, function_tool_for
from runtime.workflow import Edge, Node, Workflow, render

CACHE_SIZE = 256
VOICE_STYLE = (
    "You are speaking with a caller on a live voice call. Reply in short, natural spoken "
    "sentences: no markdown, lists, emoji or URLs. Ask one question at a time."
)
END_STYLE = "The conversation is ending: say a brief, polite goodbye."


@dataclass(frozen=True)
class CompiledWorkflow:
    workflow: Workflow
    agents: dict[str, Agent[CallContext]]
    edges: dict[str, Edge]  # handoff tool name -> edge

    def agent(self, node_id: str) -> Agent[CallContext]:
        return self.agents[node_id]


def handoff_tool_name(target: str) -> str:
    return f"handoff_to_{target}"


def _instructions(workflow: Workflow, node: Node):
    def build(wrapper: RunContextWrapper[CallContext], agent: Agent[CallContext]) -> str:
        ctx = wrapper.context
        if ctx.engine == OFFLINE_ENGINE:
            # The offline scripted engine speaks this text verbatim (never the prompt).
            text = offline_line(node)
            return render(text, ctx.variables)
        parts = [VOICE_STYLE]
        language = answer_in(ctx.language or workflow.settings.language)
        if language:
            parts.append(language)
        if workflow.global_prompt:
            parts.append(workflow.global_prompt)
        if node.prompt:
            parts.append(node.prompt)
        if node.type == "end":
            parts.append(END_STYLE)
        edges = workflow.edges_from(node.id)
        if edges:
            parts.append(
                "When one of these becomes true, call its handoff tool at once (do not announce "
                "it): " + "; ".join(f"{handoff_tool_name(e.target)}: {e.condition}" for e in edges)
            )
        return render("\n\n".join(parts), ctx.variables)

    return build


def compile_workflow(workflow: Workflow) -> CompiledWorkflow:
    agents: dict[str, Agent[CallContext]] = {}
    for node in workflow.nodes:
        tools = [function_tool_for(workflow.tool(name)) for name in node.tools]
        agents[node.id] = Agent[CallContext](
            name=node.id,
            instructions=_instructions(workflow, node),
            tools=tools,
            handoff_description=node.name or None,
        )
    edges: dict[str, Edge] = {}
    for node in workflow.nodes:
        handoffs: list[Handoff[Any, Any]] = []
        for edge in workflow.edges_from(node.id):
            name = handoff_tool_name(edge.target)
            edges[f"{node.id}>{name}"] = edge
            handoffs.append(
                handoff(
                    agents[edge.target],
                    tool_name_override=name,
                    tool_description_override=edge.condition,
                )
            )
        agents[node.id].handoffs = list(handoffs)
    return CompiledWorkflow(workflow=workflow, agents=agents, edges=edges)


class CompileCache:
    """A small LRU of compiled versions keyed by (workflow id, version)."""

    def __init__(self, size: int = CACHE_SIZE):
        self.size = size
        self._items: OrderedDict[tuple[str, int], CompiledWorkflow] = OrderedDict()
        self.compiles = 0

    def lookup(self, workflow_id: str | None, version: int | None) -> CompiledWorkflow | None:
        if workflow_id is None or version is None:
            return None
        hit = self._items.get((workflow_id, version))
        if hit is not None:
            self._items.move_to_end((workflow_id, version))
        return hit

    def store(self, workflow: Workflow, workflow_id: str | None, version: int | None
              ) -> CompiledWorkflow:
        """Compile ``workflow``; keep it when it is a numbered version (drafts change)."""
        self.compiles += 1
        compiled = compile_workflow(workflow)
        if workflow_id is not None and version is not None:
            self._items[(workflow_id, version)] = compiled
            if len(self._items) > self.size:
                self._items.popitem(last=False)
        return compiled


compile_cache = CompileCache()
