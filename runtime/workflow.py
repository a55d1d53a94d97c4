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
BUILTIN_TOOLS = ("end_call", "transfer_call", "send_dtmf", "opt_out")

Name = Annotated[str, Field(pattern=NAME_PATTERN, description="lower_snake_case identifier")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Node(_Model):
    """A step of the conversation: the agent's instructions while the call is here."""

    id: Name = Field(description="Unique node id, referenced by edges (lower_snake_case)")
    type: Literal["start", "agent", "end"] = Field(
        description="start: where every call begins (exactly one); agent: a step; end: says "
        "its words and ends the call"
    )
    name: str = Field(default="", max_length=200, description="Display name")
    prompt: str = Field(default="", max_length=20_000, description="Instructions at this node")
    greeting: str | None = Field(
        default=None, max_length=2_000, description="Start node only: fixed first words"
    )
    say: str | None = Field(
        default=None,
        max_length=2_000,
        description="Fixed words the offline scripted engine speaks at this node "
        "(else a neutral line; never the prompt)",
    )
    tools: list[str] = Field(
        default_factory=list, max_length=32,
        description="Tools usable at this node: names from `tools`, or the built-ins "
        "end_call, send_dtmf and opt_out",
    )
    interruptible: bool = Field(default=True, description="The caller may barge in")


class Edge(_Model):
    """A possible move from one node to another, taken when its condition holds."""

    source: str = Field(alias="from", description="Node id the edge leaves")
    target: str = Field(alias="to", description="Node id the edge enters")
    condition: str = Field(min_length=1, max_length=1_000,
                           description="When to take it, in plain words (the model decides)")
    say: str | None = Field(default=None, max_length=1_000, description="Words on the transition")


class HttpTool(_Model):
    """An HTTP request the agent can make; GET/DELETE send the arguments as the query
    string, other methods as a JSON body. The response text (first 4,000 characters) is the
    tool's result."""

    type: Literal["http"] = Field(default="http", description="Tool kind")
    name: Name = Field(description="Tool name the model calls (lower_snake_case)")
    description: str = Field(min_length=1, max_length=1_000,
                             description="What the tool does: the model reads this")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = Field(
        default="POST", description="HTTP method")
    url: str = Field(min_length=1, max_length=2_000,
                     description="http(s) URL; may use {{input}} variables")
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Request headers; values may use {{input}} and {{secret.NAME}}",
    )
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="JSON schema of the arguments",
    )
    timeout_seconds: float = Field(default=10.0, gt=0, le=60, description="Request timeout")


class EndCallTool(_Model):
    """Built-in: hang up after the current reply."""

    type: Literal["end_call"] = Field(default="end_call", description="Tool kind")
    name: Name = "end_call"
    description: str = Field(default="End the call once you have said goodbye.",
                             max_length=1_000, description="When the model should use it")


class TransferCallTool(_Model):
    """Built-in: transfer the caller to a fixed number or SIP URI (declare it to use it)."""

    type: Literal["transfer_call"] = Field(default="transfer_call", description="Tool kind")
    name: Name = "transfer_call"
    description: str = Field(default="Transfer the caller to a human.", max_length=1_000,
                             description="When the model should use it")
    destination: str = Field(min_length=3, max_length=200, description="E.164 number or SIP URI")


class SendDtmfTool(_Model):
    """Built-in: send DTMF digits on the line."""

    type: Literal["send_dtmf"] = Field(default="send_dtmf", description="Tool kind")
    name: Name = "send_dtmf"
    description: str = Field(
        default="Send DTMF digits (0-9, *, #) on the line, e.g. to navigate a menu.",
        max_length=1_000, description="When the model should use it")


class OptOutTool(_Model):
    """Built-in: the person asks not to be called again; once the call ends their number
    goes on the organization's do-not-call list (campaigns skip it)."""

    type: Literal["opt_out"] = Field(default="opt_out", description="Tool kind")
    name: Name = "opt_out"
    description: str = Field(
        default="Use when the person asks not to be called again (stop calling, remove me "
        "from your list).", max_length=1_000, description="When the model should use it")


Tool = Annotated[
    HttpTool | EndCallTool | TransferCallTool | SendDtmfTool | OptOutTool,
    Field(discriminator="type"),
]


class InputVariable(_Model):
    """A value given when the call starts (API, campaign row, number), used as {{name}}."""

    name: Name
    description: str = Field(default="", max_length=1_000, description="What it holds")
    default: str | None = Field(default=None, max_length=2_000,
                                description="Used when the call does not set it")


class ExtractVariable(_Model):
    """A value the post-call analysis extracts from the transcript onto the call."""

    name: Name
    type: Literal["string", "number", "integer", "boolean"] = Field(
        default="string", description="JSON type of the extracted value")
    description: str = Field(default="", max_length=1_000,
                             description="What to extract (the analysis model reads this)")
    required: bool = Field(default=False, description="Flag the call when it is missing")


class ServiceChoice(_Model):
    """A provider and model for one stage; unset fields use the organization's choice.
    Supported names: see ``runtime.supported`` (a typo is a validation problem)."""

    provider: str | None = Field(
        default=None, max_length=50,
        description="llm: openai | openai-compatible | offline; stt: deepgram | "
        "deepgram-flux | offline; tts: deepgram | openai | elevenlabs | cartesia | offline",
    )
    model: str | None = Field(default=None, max_length=100,
                              description="Provider model, e.g. gpt-4.1-mini, nova-3-general")
    voice: str | None = Field(default=None, max_length=200, description="TTS only: voice id")
    base_url: str | None = Field(
        default=None, description="LLM only: the OpenAI-compatible endpoint (Ollama, vLLM, ...)"
    )


class VoicemailPolicy(_Model):
    """What to do when an outbound call reaches an answering machine."""

    action: Literal["hangup", "message"] = Field(
        default="hangup", description="hangup, or leave `text` as a message")
    text: str | None = Field(default=None, max_length=2_000, description="For 'message'")


class InputGuardrailSettings(_Model):
    """Caller input the agent must not act on: matching turns get ``refusal`` instead."""

    blocked_phrases: list[str] = Field(default_factory=list, max_length=200,
                                       description="Case-insensitive phrases to refuse")
    refusal: str = Field(default="Sorry, I can't help with that.", max_length=500,
                         description="Said instead of a reply")


class InterruptionSettings(_Model):
    """What the caller must say over the agent to stop it (barge-in)."""

    backchannel_filter: bool = Field(
        default=True, strict=True,
        description="Only words that are not back-channels (uh-huh, okay, right) stop the "
        "agent; false: any voice activity does",
    )
    min_words: int = Field(default=1, ge=1, le=5,
                           description="Words (not back-channels) needed to stop the agent")


#: STT providers that say themselves when the caller's turn ends (``turn.strategy: provider``).
END_OF_TURN_STT = ("deepgram-flux",)


class TurnSettings(_Model):
    """When the caller's turn is over (docs/TURN_TAKING.md has the measured figures)."""

    strategy: Literal["smart-turn", "speech-timeout", "provider"] | None = Field(
        default=None,
        description="smart-turn: Smart Turn v3 confirmed by the transcript; speech-timeout: "
        "a fixed silence; provider: the STT decides (deepgram-flux only). Default: provider "
        "with deepgram-flux, smart-turn otherwise",
    )
    stop_timeout_seconds: float | None = Field(
        default=None, gt=0, le=10,
        description="speech-timeout: the silence that ends a turn (default 0.6); "
        "smart-turn: the silence after which any turn ends (default from eagerness)",
    )
    eagerness: Literal["low", "normal", "high"] = Field(
        default="normal",
        description="smart-turn: how soon an answer Smart Turn doubts ends the turn "
        "(low 0.8 s, normal 0.3 s, high 0.15 s of silence)",
    )
    interruption: InterruptionSettings = Field(default_factory=InterruptionSettings,
                                               description="Barge-in rules")


class CallSettings(_Model):
    """How calls on this workflow sound and behave."""

    language: str = Field(default="en-US", max_length=20,
                          description="BCP-47 language of the call (en-US, es, fr-FR, ...): "
                          "the STT and TTS models and voices are chosen for it, the agent is "
                          "told to answer in it; an outbound call or WebRTC offer may override it")
    voice: str | None = Field(default=None, max_length=200,
                              description="TTS voice (tts.voice wins when both are set)")
    stt: ServiceChoice = Field(default_factory=ServiceChoice, description="Speech-to-text")
    llm: ServiceChoice = Field(default_factory=ServiceChoice,
                               description="The model behind the agent")
    tts: ServiceChoice = Field(default_factory=ServiceChoice, description="Text-to-speech")
    idle_timeout_seconds: float = Field(default=10.0, gt=0, le=600,
                                        description="Silence before an idle prompt")
    idle_prompts: list[str] | None = Field(
        default=None, max_length=20,
        description="Said in turn on silence; then the call ends (default: \"Are you still "
        "there?\" in the call's language)")
    max_duration_seconds: int = Field(default=1_800, gt=0, le=86_400,
                                      description="Hard limit on a call's length")
    guardrails: InputGuardrailSettings = Field(default_factory=InputGuardrailSettings,
                                               description="Caller input never acted on")
    voicemail: VoicemailPolicy | None = Field(
        default=None, description="Answering-machine policy (default: hang up)"
    )
    recording: bool = Field(default=True, strict=True,
                            description="Record this workflow's calls (when the server records "
                                        "calls at all: RECORD_CALLS)")
    turn: TurnSettings = Field(default_factory=TurnSettings,
                               description="Turn-taking and barge-in")
    tool_filler: str | None = Field(
        default="One moment.", max_length=200,
        description="Said when a tool call takes longer than a second (null: say nothing)",
    )


def _example(schema: dict[str, Any]) -> None:
    from runtime.templates import order_desk

    example = order_desk("https://voice.example.com/demo/orders")
    example["settings"] = {
        "language": "en-US",
        "voice": None,
        "stt": {"provider": "deepgram", "model": "nova-3-general"},
        "llm": {"provider": "openai", "model": "gpt-4.1-mini"},
        "tts": {"provider": "deepgram", "voice": "aura-2-helena-en"},
        "idle_timeout_seconds": 10, "idle_prompts": ["Are you still there?"],
        "max_duration_seconds": 1800,
        "guardrails": {"blocked_phrases": ["ignore your instructions"],
                       "refusal": "Sorry, I can't help with that."},
        "voicemail": {"action": "hangup"},
        "recording": True,
        "turn": {"strategy": "smart-turn", "eagerness": "normal",
                 "interruption": {"backchannel_filter": True, "min_words": 1}},
        "tool_filler": "One moment.",
    }
    schema["examples"] = [example]


class Workflow(_Model):
    """A workflow definition (the draft you edit, and every published version). Documented
    with a complete example in docs/WORKFLOWS.md."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True,
                              json_schema_extra=_example)

    global_prompt: str = Field(default="", max_length=20_000, alias="global",
                               description="Instructions for every node (persona, rules)")
    nodes: list[Node] = Field(min_length=1, max_length=200,
                              description="Exactly one start node, then agent and end nodes")
    edges: list[Edge] = Field(default_factory=list, max_length=1_000,
                              description="Moves between nodes, each with a condition")
    tools: list[Tool] = Field(default_factory=list, max_length=100,
                              description="Tools nodes may use (by name)")
    inputs: list[InputVariable] = Field(default_factory=list, max_length=100,
                                        description="Input variables usable as {{name}}")
    variables: list[ExtractVariable] = Field(default_factory=list, max_length=100,
                                             description="Extracted after each call")
    settings: CallSettings = Field(default_factory=CallSettings,
                                   description="Language, providers, timeouts, guardrails")

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

    def tool(self, name: str) -> HttpTool | EndCallTool | TransferCallTool | SendDtmfTool | OptOutTool | None:
        for tool in self.tools:
            if tool.name == name:
                return tool
        if name == "end_call":
            return EndCallTool()
        if name == "send_dtmf":
            return SendDtmfTool()
        if name == "opt_out":
            return OptOutTool()
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
