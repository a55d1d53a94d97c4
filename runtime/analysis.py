"""Post-call analysis: extract the workflow's declared variables and a short summary.

With a language model this is one structured-output run (openai-agents, ``output_type`` a
pydantic model built from the declared variables). With the offline engine it is a
deterministic extraction, labelled ``offline-scripted``: values come from the arguments the
call's tools were given, then from numbers the caller said; the summary quotes the caller.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from agents import Agent, AgentOutputSchema, RunConfig, Runner
from pydantic import Field, create_model

from runtime.models import ModelConfig, model_settings, shared_model
from runtime.offline_model import OFFLINE_ENGINE
from runtime.offline_understanding import spoken_numbers
from runtime.workflow import ExtractVariable

_TYPES: dict[str, type] = {"string": str, "number": float, "integer": int, "boolean": bool}
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")
ANALYST_PROMPT = (
    "You analyse a finished phone call between a caller and a voice agent. From the "
    "transcript, extract each requested field (null when the call does not say it; never "
    "guess) and write a factual summary of at most three sentences."
)


@dataclass(slots=True)
class Analysis:
    extracted: dict[str, Any]
    summary: str
    engine: str
    missing_required: list[str] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0


def transcript_text(history: list[dict[str, Any]]) -> str:
    lines = []
    for item in history:
        role = item.get("role")
        if role in ("user", "assistant"):
            lines.append(f"{'Caller' if role == 'user' else 'Agent'}: {item.get('content', '')}")
        elif role == "tool":
            lines.append(f"Tool {item.get('name')}: {str(item.get('content', ''))[:500]}")
    return "\n".join(lines)


async def analyze_call(variables: list[ExtractVariable], history: list[dict[str, Any]],
                       model: ModelConfig) -> Analysis:
    """Extract ``variables`` (a workflow's declared ones) and summarize ``history``."""
    if not any(item.get("role") == "user" for item in history):
        # Nothing was said by the caller: nothing to extract, no model run needed.
        analysis = Analysis(extracted={v.name: None for v in variables},
                            summary="The caller did not speak.", engine=model.engine)
    elif model.provider == "offline":
        analysis = offline_analysis(variables, history)
    else:
        analysis = await _model_analysis(variables, history, model)
    analysis.missing_required = [
        v.name for v in variables if v.required and analysis.extracted.get(v.name) is None
    ]
    return analysis


def history_from_turns(turns: list[Any]) -> list[dict[str, Any]]:
    """Stored call turns (speaker user/agent/tool) as session-style history items."""
    history: list[dict[str, Any]] = []
    for turn in turns:
        speaker = turn["speaker"]
        if speaker == "user":
            history.append({"role": "user", "content": turn["text"]})
        elif speaker == "agent":
            history.append({"role": "assistant", "content": turn["text"]})
        elif speaker == "tool":
            tool = turn["tool"] or {}
            name = tool.get("name") or turn["text"]
            history.append({"role": "tool_call", "name": name,
                            "content": json.dumps(tool.get("arguments") or {})})
            history.append({"role": "tool", "name": name,
                            "content": str(tool.get("error") or tool.get("result") or "")})
    return history


async def _model_analysis(variables: list[ExtractVariable], history: list[dict[str, Any]],
                          model: ModelConfig) -> Analysis:
    fields: dict[str, Any] = {
        v.name: (_TYPES[v.type] | None, Field(description=v.description or v.name))
        for v in variables
    }
    outputs: dict[str, Any] = {"summary": (str, Field(description="At most three sentences"))}
    if fields:  # strict schemas want no empty objects
        outputs["extracted"] = (create_model("Extracted", **fields),
                                Field(description="The requested fields"))
    output = create_model("CallAnalysis", **outputs)
    analyst = Agent(name="call_analyst", instructions=ANALYST_PROMPT,
                    output_type=AgentOutputSchema(output, strict_json_schema=True))
    result = await Runner.run(
        analyst,
        "Transcript:\n" + transcript_text(history),
        run_config=RunConfig(model=shared_model(model), model_settings=model_settings(model),
                             tracing_disabled=True),
        max_turns=1,
    )
    data = result.final_output
    usage = result.context_wrapper.usage
    extracted = data.extracted.model_dump() if fields else {}
    return Analysis(
        extracted=extracted, summary=data.summary.strip(),
        engine=model.engine, input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
    )


def offline_analysis(variables: list[ExtractVariable], history: list[dict[str, Any]]
                     ) -> Analysis:
    tool_args: dict[str, Any] = {}
    for item in history:
        if item.get("role") == "tool_call":
            try:
                args = json.loads(item.get("content") or "{}")
            except ValueError:
                continue
            if isinstance(args, dict):
                tool_args.update(args)
    said = [str(i.get("content", "")) for i in history if i.get("role") == "user"]
    numbers = [m for text in said for m in _NUMBER_RE.findall(spoken_numbers(text))]
    extracted: dict[str, Any] = {}
    for var in variables:
        value: Any = tool_args.get(var.name)
        if value is None and var.type in ("number", "integer") and numbers:
            value = numbers[0]
        extracted[var.name] = _coerce(value, var.type)
    if said:
        summary = (f"Offline summary (no language model): the caller spoke {len(said)} times, "
                   f"first saying \"{said[0][:120]}\".")
    else:
        summary = "Offline summary (no language model): the caller did not speak."
    return Analysis(extracted=extracted, summary=summary, engine=OFFLINE_ENGINE)


def _coerce(value: Any, kind: str) -> Any:
    if value is None:
        return None
    try:
        if kind == "integer":
            return int(float(value))
        if kind == "number":
            return float(value)
        if kind == "boolean":
            return value if isinstance(value, bool) else str(value).lower() in ("true", "yes")
    except (TypeError, ValueError):
        return None
    return str(value)
