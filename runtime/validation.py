"""Workflow validation: every problem at once, each with a JSON pointer into the definition.

``validate_definition`` first checks the nesting depth (``MAX_DEFINITION_DEPTH``) and shapes
(pydantic), then the graph: exactly one start node, duplicate names, edges to missing nodes,
unreachable nodes, nodes with no path to an end, unknown tools and undeclared
``{{template}}`` variables; then the settings: provider, model and language names this
server supports (``runtime.supported``). ``key_problems`` adds what depends on the
organization: a cloud provider with no key available.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import ValidationError

from runtime import supported
from runtime.languages import LanguageProblem, stt_setup, tts_setup
from runtime.workflow import (
    BUILTIN_TOOLS,
    END_OF_TURN_STT,
    ServiceChoice,
    Workflow,
    template_names,
)

# A definition nested deeper than this is refused (a JSON schema of tool parameters is the
# only free-form part; real ones stay far below it).
MAX_DEFINITION_DEPTH = 32


@dataclass(frozen=True, slots=True)
class Problem:
    pointer: str  # RFC 6901 JSON pointer into the definition
    code: str
    message: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)


class WorkflowInvalid(Exception):
    """The definition has problems; ``problems`` lists all of them."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(f"{p.pointer}: {p.message}" for p in problems))
        self.problems = problems


def _pointer(*parts: object) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _shape_problems(exc: ValidationError) -> list[Problem]:
    problems = []
    for err in exc.errors():
        # Discriminated unions add the tag to the location; it is not part of the document.
        loc = [p for p in err["loc"] if p not in ("http", *BUILTIN_TOOLS)]
        problems.append(Problem(_pointer(*loc), "invalid_" + err["type"], err["msg"]))
    return problems


def parse_workflow(definition: dict[str, Any]) -> Workflow:
    """Parse and fully validate a definition, raising ``WorkflowInvalid`` with every problem."""
    problems = validate_definition(definition)
    if problems:
        raise WorkflowInvalid(problems)
    return Workflow.model_validate(definition)


def validate_definition(definition: Any) -> list[Problem]:
    """Return every problem in ``definition`` (empty when it is valid)."""
    if not isinstance(definition, dict):
        return [Problem("", "invalid_type", "a workflow definition is a JSON object")]
    too_deep = depth_problem(definition)
    if too_deep is not None:
        return [too_deep]
    try:
        workflow = Workflow.model_validate(definition)
    except ValidationError as exc:
        return _shape_problems(exc)
    return graph_problems(workflow)


def graph_problems(wf: Workflow) -> list[Problem]:
    problems: list[Problem] = []
    problems += _duplicates(wf)
    starts = [i for i, n in enumerate(wf.nodes) if n.type == "start"]
    if len(starts) != 1:
        problems.append(
            Problem("/nodes", "start_count", f"exactly one start node needed, found {len(starts)}")
        )
    ids = {n.id for n in wf.nodes}
    for i, node in enumerate(wf.nodes):
        if node.greeting is not None and node.type != "start":
            problems.append(
                Problem(_pointer("nodes", i, "greeting"), "greeting_not_start",
                        "only the start node has a greeting")
            )
    for i, edge in enumerate(wf.edges):
        for field, alias in (("source", "from"), ("target", "to")):
            if getattr(edge, field) not in ids:
                problems.append(
                    Problem(_pointer("edges", i, alias), "missing_node",
                            f"edge points to missing node '{getattr(edge, field)}'")
                )
        if edge.source in ids and wf.node(edge.source).type == "end":
            problems.append(
                Problem(_pointer("edges", i, "from"), "edge_from_end",
                        "end nodes have no outgoing edges")
            )
    problems += _tool_problems(wf)
    if len(starts) == 1:
        problems += _reachability(wf, wf.nodes[starts[0]].id)
    problems += _template_problems(wf)
    problems += settings_problems(wf)
    problems += turn_problems(wf)
    return problems


def depth_problem(value: Any, max_depth: int = MAX_DEFINITION_DEPTH) -> Problem | None:
    """A problem at the first container nested deeper than ``max_depth`` (iterative walk)."""
    stack: list[tuple[Any, int, tuple[Any, ...]]] = [(value, 1, ())]
    while stack:
        item, depth, path = stack.pop()
        if not isinstance(item, dict | list):
            continue
        if depth > max_depth:
            return Problem(_pointer(*path), "nesting_too_deep",
                           f"a workflow definition may nest at most {max_depth} levels")
        children = item.items() if isinstance(item, dict) else enumerate(item)
        stack.extend((child, depth + 1, (*path, key)) for key, child in children)
    return None


def _choice_problems(kind: str, choice: ServiceChoice, providers: tuple[str, ...],
                     models: dict[str, tuple[str, ...] | None]) -> list[Problem]:
    problems = []
    provider = choice.provider
    if provider is not None and provider not in providers:
        problems.append(Problem(_pointer("settings", kind, "provider"), "unknown_provider",
                                f"unknown {kind} provider '{provider}'; supported: "
                                + ", ".join(providers)))
        return problems
    effective = provider or ("openai" if kind == "llm" else None)  # llm default: openai
    if choice.model is not None and effective is None:
        problems.append(Problem(_pointer("settings", kind, "model"), "model_without_provider",
                                f"a {kind} model needs settings.{kind}.provider"))
    elif choice.model is not None and effective is not None:
        families = models.get(effective, ())
        if not supported.model_known(families, choice.model):
            allowed = ", ".join(f + "*" for f in families or ()) or "none (leave it unset)"
            problems.append(Problem(_pointer("settings", kind, "model"), "unknown_model",
                                    f"model '{choice.model}' is not a {effective} {kind} "
                                    f"model; supported: {allowed}"))
    if choice.base_url is not None and (kind != "llm" or provider != "openai-compatible"):
        problems.append(Problem(_pointer("settings", kind, "base_url"), "base_url_unused",
                                "base_url is only for the openai-compatible llm provider"))
    if kind == "llm" and provider == "openai-compatible" and not choice.base_url:
        problems.append(Problem(_pointer("settings", kind, "base_url"), "base_url_required",
                                "the openai-compatible provider needs a base_url"))
    return problems


def settings_problems(wf: Workflow) -> list[Problem]:
    """Providers, models and languages the server does not support."""
    s = wf.settings
    problems = _choice_problems("llm", s.llm, supported.LLM_PROVIDERS, supported.LLM_MODELS)
    problems += _choice_problems("stt", s.stt, supported.STT_PROVIDERS, supported.STT_MODELS)
    problems += _choice_problems("tts", s.tts, supported.TTS_PROVIDERS, supported.TTS_MODELS)
    if s.language.lower() not in supported.LANGUAGES:
        problems.append(Problem("/settings/language", "unknown_language",
                                f"unsupported language '{s.language}' (a BCP-47 tag such as "
                                "en-US, es or fr-FR)"))
    else:
        problems += speech_language_problems(wf)
    return problems


def turn_problems(wf: Workflow) -> list[Problem]:
    """Turn settings that cannot work: the provider strategy with an STT that never says
    when a turn ends, a timeout the strategy does not use, a blank tool filler."""
    s, problems = wf.settings, []
    if s.turn.strategy == "provider" and s.stt.provider not in END_OF_TURN_STT:
        problems.append(Problem("/settings/turn/strategy", "turn_strategy_unsupported",
                                "the provider strategy needs an STT that detects the end of "
                                f"turn: settings.stt.provider {' or '.join(END_OF_TURN_STT)}"))
    if s.turn.strategy == "provider" and s.turn.stop_timeout_seconds is not None:
        problems.append(Problem("/settings/turn/stop_timeout_seconds", "timeout_unused",
                                "the provider strategy's STT decides; remove the timeout"))
    if s.tool_filler is not None and not s.tool_filler.strip():
        problems.append(Problem("/settings/tool_filler", "blank_filler",
                                "say something, or use null for no filler"))
    return problems


def speech_language_problems(wf: Workflow, language: str | None = None) -> list[Problem]:
    """The speech providers the workflow names that cannot hear or speak ``language``
    (default: the workflow's) with its model and voice; each problem names the provider and
    points at the field to change (``runtime.languages``)."""
    s = wf.settings
    language = language or s.language
    found: list[tuple[str, LanguageProblem]] = []
    if s.stt.provider in supported.STT_PROVIDERS:
        setup = stt_setup(s.stt.provider, s.stt.model, language)
        if isinstance(setup, LanguageProblem):
            found.append(("stt", setup))
    if s.tts.provider in supported.TTS_PROVIDERS:
        setup = tts_setup(s.tts.provider, s.tts.model, s.tts.voice or s.voice, language)
        if isinstance(setup, LanguageProblem):
            found.append(("tts", setup))
    voice = "/settings/tts/voice" if s.tts.voice else "/settings/voice"
    return [Problem({"language": "/settings/language", "model": _pointer("settings", stage, "model"),
                     "voice": voice}[problem.field], "unsupported_language", problem.message)
            for stage, problem in found]


def key_problems(wf: Workflow, accounts_with_keys: set[str]) -> list[Problem]:
    """Cloud providers the workflow names whose account has no key available to it (neither
    stored by the organization nor shared by the server)."""
    problems = []
    for kind in ("llm", "stt", "tts"):
        provider = getattr(wf.settings, kind).provider
        account = supported.ACCOUNT_OF.get(provider) if provider else None
        if account is not None and account not in accounts_with_keys:
            problems.append(Problem(_pointer("settings", kind, "provider"), "missing_key",
                                    f"no {account} API key is available to this organization: "
                                    f"store one (PUT /api/v1/provider-credentials/{account}) "
                                    "or choose another provider"))
    return problems


def _duplicates(wf: Workflow) -> list[Problem]:
    problems = []
    groups: list[tuple[str, list[str], str]] = [
        ("nodes", [n.id for n in wf.nodes], "id"),
        ("tools", [t.name for t in wf.tools], "name"),
        ("inputs", [v.name for v in wf.inputs], "name"),
        ("variables", [v.name for v in wf.variables], "name"),
    ]
    for collection, names, key in groups:
        seen: set[str] = set()
        for i, name in enumerate(names):
            if name in seen:
                problems.append(
                    Problem(_pointer(collection, i, key), "duplicate_name",
                            f"duplicate {key} '{name}' in {collection}")
                )
            seen.add(name)
    for i, node in enumerate(wf.nodes):
        seen_targets: set[str] = set()
        for edge in wf.edges_from(node.id):
            if edge.target in seen_targets:
                j = wf.edges.index(edge)
                problems.append(
                    Problem(_pointer("edges", j), "duplicate_name",
                            f"more than one edge from '{node.id}' to '{edge.target}'")
                )
            seen_targets.add(edge.target)
        if len(set(node.tools)) != len(node.tools):
            problems.append(
                Problem(_pointer("nodes", i, "tools"), "duplicate_name", "tool listed twice")
            )
    return problems


def _tool_problems(wf: Workflow) -> list[Problem]:
    problems = []
    for i, node in enumerate(wf.nodes):
        for j, name in enumerate(node.tools):
            if wf.tool(name) is None:
                hint = (
                    " (declare a transfer_call tool with its destination)"
                    if name == "transfer_call" else ""
                )
                problems.append(
                    Problem(_pointer("nodes", i, "tools", j), "unknown_tool",
                            f"unknown tool '{name}'{hint}")
                )
    for i, tool in enumerate(wf.tools):
        if tool.type == "http":
            params = tool.parameters
            if not isinstance(params, dict) or params.get("type") != "object":
                problems.append(
                    Problem(_pointer("tools", i, "parameters"), "invalid_schema",
                            "parameters must be a JSON schema with type 'object'")
                )
                continue
            try:
                Draft202012Validator.check_schema(params)
            except SchemaError as exc:
                where = "/".join(str(p) for p in exc.absolute_path)
                problems.append(
                    Problem(_pointer("tools", i, "parameters") + (f"/{where}" if where else ""),
                            "invalid_schema", f"not a valid JSON schema: {exc.message[:200]}")
                )
    return problems


def _reachability(wf: Workflow, start: str) -> list[Problem]:
    problems = []
    ids = {n.id for n in wf.nodes}
    forward: dict[str, set[str]] = {n: set() for n in ids}
    backward: dict[str, set[str]] = {n: set() for n in ids}
    for edge in wf.edges:
        if edge.source in ids and edge.target in ids:
            forward[edge.source].add(edge.target)
            backward[edge.target].add(edge.source)
    reachable = _walk(forward, {start})
    # A node can finish the call if it is an end node or may call end_call itself.
    enders = {n.id for n in wf.nodes if n.type == "end" or "end_call" in n.tools}
    if not enders:
        problems.append(Problem("/nodes", "no_end", "the workflow has no end node"))
    can_finish = _walk(backward, enders)
    for i, node in enumerate(wf.nodes):
        if node.id not in reachable:
            problems.append(
                Problem(_pointer("nodes", i), "unreachable",
                        f"node '{node.id}' cannot be reached from the start node")
            )
        elif enders and node.id not in can_finish:
            problems.append(
                Problem(_pointer("nodes", i), "no_path_to_end",
                        f"no path from node '{node.id}' to an end")
            )
    return problems


def _walk(graph: dict[str, set[str]], roots: set[str]) -> set[str]:
    seen = set(roots)
    queue = deque(roots)
    while queue:
        for nxt in graph.get(queue.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def _template_problems(wf: Workflow) -> list[Problem]:
    declared = {v.name for v in wf.inputs}
    texts: list[tuple[str, str | None]] = [("/global", wf.global_prompt)]
    for i, node in enumerate(wf.nodes):
        for field in ("prompt", "greeting", "say"):
            texts.append((_pointer("nodes", i, field), getattr(node, field)))
    for i, edge in enumerate(wf.edges):
        texts.append((_pointer("edges", i, "say"), edge.say))
    texts += [(_pointer("settings", "idle_prompts", i), p)
              for i, p in enumerate(wf.settings.idle_prompts or ())]
    problems = []
    for i, tool in enumerate(wf.tools):
        if tool.type != "http":
            continue
        texts.append((_pointer("tools", i, "url"), tool.url))
        for header, value in tool.headers.items():
            pointer = _pointer("tools", i, "headers", header)
            for name in template_names(value):
                if not name.startswith("secret."):
                    texts.append((pointer, "{{" + name + "}}"))
    for pointer, text in texts:
        for name in template_names(text):
            if name not in declared:
                problems.append(
                    Problem(pointer, "undeclared_variable",
                            f"template variable '{name}' is not declared in inputs")
                )
    return problems
