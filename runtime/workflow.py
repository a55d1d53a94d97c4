"""The workflow graph model: what a workflow definition (JSON) holds.

A workflow is a graph of nodes (exactly one ``start``, any number of ``agent`` and ``end``
nodes) joined by edges that carry a natural-language condition. Nodes may use tools (HTTP
tools declared on the workflow, or the built-ins ``end_call``, ``transfer_call`` and
``send_dtmf``). Prompts may use ``{{variable}}`` templates filled from the call's input
variables; HTTP tool headers may also use ``{{secret.NAME}}`` filled from stored credentials.

Structural checks that span the graph (reachability, dangling edges, unknown tools, ...) live
in ``runtime.validation``; this module only describes shapes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,47}$"
TEMPLATE_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")
BUILTIN_TOOLS = ("end_call", "transfer_call", "send_dtmf")

Name = Annotated[str, Field(pattern=NAME_PATTERN, description="lower_snake_case identifier")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Node(_Model):
    id: Name
    type: Literal["start", "agent", "end"]
    name: str = Field(default="", max_length=200, description="Display name")
    prompt: str = Field(default="", max_length=20_000, description="Instructions at this node")
    greeting: str | None = Field(
        default=None, max_length=2_000, description="Start node only: fixed first words"
    )
    say: str | None = Field(
        default=None,
        max_length=2_000,
        description="Fixed words the offline scripted engine speaks at this node "
        "(falls back to the prompt)",
    )
    tools: list[str] = Field(default_factory=list, max_length=32)
    interruptible: bool = True


class Edge(_Model):
    source: str = Field(alias="from")
    target: str = Field(alias="to")
    condition: str = Field(min_length=1, max_length=1_000)
    say: str | None = Field(default=None, max_length=1_000, description="Words on the transition")


class HttpTool(_Model):
    type: Literal["http"] = "http"
    name: Name
    description: str = Field(min_length=1, max_length=1_000)
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: str = Field(min_length=1, max_length=2_000)
    headers: dict[str, str] = Field(default_factory=dict)
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="JSON schema of the arguments",
    )
    timeout_seconds: float = Field(default=10.0, gt=0, le=60)


class EndCallTool(_Model):
    type: Literal["end_call"] = "end_call"
    name: Name = "end_call"
    description: str = "End the call once you have said goodbye."


class TransferCallTool(_Model):
    type: Literal["transfer_call"] = "transfer_call"
    name: Name = "transfer_call"
    description: str = "Transfer the caller to a human."
    destination: str = Field(min_length=3, max_length=200, description="E.164 number or SIP URI")


class SendDtmfTool(_Model):
    type: Literal["send_dtmf"] = "send_dtmf"
    name: Name = "send_dtmf"
    description: str = "Send DTMF digits (0-9, *, #) on the line, e.g. to navigate a menu."


Tool = Annotated[
    HttpTool | EndCallTool | TransferCallTool | SendDtmfTool, Field(discriminator="type")
]


class InputVariable(_Model):
    name: Name
    description: str = ""
    default: str | None = None


class ExtractVariable(_Model):
    name: Name
    type: Literal["string", "number", "integer", "boolean"] = "string"
    description: str = ""
    required: bool = False


class ServiceChoice(_Model):
    provider: str | None = None
    model: str | None = None
    voice: str | None = None
    base_url: str | None = Field(
        default=None, description="LLM only: the OpenAI-compatible endpoint (Ollama, vLLM, ...)"
    )


class VoicemailPolicy(_Model):
    """What to do when an outbound call reaches an answering machine."""

    action: Literal["hangup", "message"] = "hangup"
    text: str | None = Field(default=None, max_length=2_000, description="For 'message'")


class InputGuardrailSettings(_Model):
    """Caller input the agent must not act on: matching turns get ``refusal`` instead."""

    blocked_phrases: list[str] = Field(default_factory=list, max_length=200)
    refusal: str = Field(default="Sorry, I can't help with that.", max_length=500)


class CallSettings(_Model):
    language: str = "en-US"
    voice: str | None = None
    stt: ServiceChoice = Field(default_factory=ServiceChoice)
    llm: ServiceChoice = Field(default_factory=ServiceChoice)
    tts: ServiceChoice = Field(default_factory=ServiceChoice)
    idle_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    idle_prompts: list[str] = Field(default_factory=lambda: ["Are you still there?"])
    max_duration_seconds: int = Field(default=1_800, gt=0, le=86_400)
    guardrails: InputGuardrailSettings = Field(default_factory=InputGuardrailSettings)
    voicemail: VoicemailPolicy | None = Field(
        default=None, description="Answering-machine policy (default: hang up)"
    )


class Workflow(_Model):
    global_prompt: str = Field(default="", max_length=20_000, alias="global")
    nodes: list[Node] = Field(min_length=1, max_length=200)
    edges: list[Edge] = Field(default_factory=list, max_length=1_000)
    tools: list[Tool] = Field(default_factory=list, max_length=100)
    inputs: list[InputVariable] = Field(default_factory=list, max_length=100)
    variables: list[ExtractVariable] = Field(default_factory=list, max_length=100)
    settings: CallSettings = Field(default_factory=CallSettings)

    def node(self, node_id: str) -> Node:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    @property
    def start(self) -> Node:
        return next(n for n in self.nodes if n.type == "start")

    def edges_from(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.source == node_id]

    def tool(self, name: str) -> HttpTool | EndCallTool | TransferCallTool | SendDtmfTool | None:
        for tool in self.tools:
            if tool.name == name:
                return tool
        if name == "end_call":
            return EndCallTool()
        if name == "send_dtmf":
            return SendDtmfTool()
        return None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def template_names(text: str | None) -> list[str]:
    """The ``{{name}}`` references in ``text``, in order."""
    return TEMPLATE_RE.findall(text) if text else []


def render(text: str, variables: Mapping[str, str]) -> str:
    """Fill ``{{name}}`` templates; unknown names render as an empty string."""
    return TEMPLATE_RE.sub(lambda m: str(variables.get(m.group(1), "")), text)


def input_values(workflow: Workflow, variables: Mapping[str, str]) -> dict[str, str]:
    """The call's input variables with the workflow's declared defaults filled in."""
    values = {v.name: v.default for v in workflow.inputs if v.default is not None}
    values.update({k: str(v) for k, v in variables.items()})
    return values
