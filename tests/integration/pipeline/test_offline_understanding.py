"""The offline demo understands its own workflow: espeak callers, PocketSphinx biased to the
workflow's phrases, and the scripted agent's fuzzy intents reach the right node.

Real synthesized speech through the real decoder processes; no real-time waits (audio is
fed as fast as the decoder takes it) and no timing assertions: the path taken is asserted.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import pytest

from loadgen.audio import silence_pcm
from loadgen.speech import speech_pcm
from pipeline.engines.sphinx_vocabulary import Vocabulary, domain_vocabulary
from pipeline.engines.sphinx_workers import SphinxWorkers
from runtime.contract import HandedOff, TextDelta, ToolCalled
from runtime.egress import EgressPolicy
from runtime.models import ModelConfig
from runtime.offline_understanding import caller_phrases
from runtime.sessions import create_session
from runtime.templates import TEMPLATES, order_desk
from runtime.workflow import Workflow

OFFLINE = ModelConfig(provider="offline")
#: (espeak voice, words per minute, caller audio rate): phone (8 kHz) and WebRTC (16 kHz).
CALLERS = [
    ("en-us+f2", 175, 8000), ("en-us+f2", 175, 16000), ("en-us", 160, 8000),
    ("en-us", 190, 16000), ("en+m3", 175, 8000), ("en+m3", 150, 16000),
    ("en-us+f4", 175, 8000), ("en-us+m1", 170, 16000), ("en+f3", 165, 8000),
    ("en-us+m7", 180, 16000),
]


@pytest.fixture(scope="module")
def workers():
    pool = SphinxWorkers(processes=2)
    pool.start()
    yield pool
    pool.close()


def transcribe(workers: SphinxWorkers, text: str, voice: str, wpm: int, rate: int,
               vocabulary: Vocabulary | None) -> str:
    audio = silence_pcm(0.3, rate) + speech_pcm(text, rate, voice=voice, rate_wpm=wpm)
    audio += silence_pcm(0.3, rate)
    done = threading.Event()
    heard: list[str] = []

    def on_result(said: str, final: bool, _cmn: str | None) -> None:
        if final:
            heard.append(said)
            done.set()

    utterance = workers.open_utterance(None, on_result, sample_rate=rate, vocabulary=vocabulary)
    chunk = rate // 50 * 2
    for i in range(0, len(audio), chunk):
        utterance.feed(audio[i : i + chunk])
    utterance.finish()
    assert done.wait(30), "no final transcript"
    return heard[0]


async def _say(session: Any, text: str) -> list[Any]:
    return [event async for event in session.respond(text)]


@dataclass(frozen=True)
class Script:
    lines: tuple[str, ...]
    expect: tuple[str, ...]  # "node:<id>", "tool:<name>:<order_number>"


#: Per template, a few phrasings of its intents; callers 2k and 2k+1 (one voice at 8 and
#: at 16 kHz, or two voices) say SCRIPTS[template][k % n].
SCRIPTS: dict[str, tuple[Script, ...]] = {
    "order_desk": (
        Script(("I want the status of my order", "my order number is one two three four"),
               ("node:orders", "tool:lookup_order:1234")),
        Script(("I have a billing question",), ("node:billing",)),
        Script(("where is my order", "it is one two three four"),
               ("node:orders", "tool:lookup_order:1234")),
        Script(("there is a charge on my bill",), ("node:billing",)),
    ),
    "receptionist": (
        Script(("I would like to book an appointment",), ("node:booking",)),
        Script(("when are you open",), ("node:questions",)),
        Script(("can I make an appointment please",), ("node:booking",)),
        Script(("where are you located",), ("node:questions",)),
    ),
    "order_status": (
        Script(("my order number is one zero zero one",), ("tool:lookup_order:1001",)),
        Script(("it is four four seven one",), ("tool:lookup_order:4471",)),
        Script(("order two five eight",), ("tool:lookup_order:258",)),
    ),
    "lead_qualification": (
        Script(("yes sure",), ("node:qualify",)),
        Script(("no thanks I am busy",), ("node:not_now",)),
        Script(("yes I have a few minutes",), ("node:qualify",)),
        Script(("sorry I am not interested",), ("node:not_now",)),
    ),
}


async def _call(workers: SphinxWorkers, definition: dict, script: Script, voice: str, wpm: int,
                rate: int, vocabulary: Vocabulary) -> list[str]:
    """One scripted caller; returns the path taken (nodes reached, tool calls)."""
    session = create_session(definition, variables={}, model=OFFLINE,
                             egress=EgressPolicy(allow_private=True))  # fmt: skip
    path: list[str] = []
    for line in script.lines:
        events = await _say(session, transcribe(workers, line, voice, wpm, rate, vocabulary))
        for event in events:
            if isinstance(event, HandedOff):
                path.append(f"node:{event.to_node}")
            elif isinstance(event, ToolCalled):
                path.append(f"tool:{event.name}:{event.arguments.get('order_number', '')}")
    return path


def _took(path: list[str], expect: tuple[str, ...], *, numbers: bool) -> bool:
    def step(s: str) -> str:
        return s if numbers or not s.startswith("tool:") else s.rsplit(":", 1)[0]

    wrong = [s for s in path if s.startswith("node:") and s not in expect]
    return not wrong and {step(s) for s in expect} <= {step(s) for s in path}


def _vocabulary(definition: dict | None = None) -> Vocabulary:
    workflow = Workflow.model_validate(definition or order_desk())
    vocabulary = domain_vocabulary(caller_phrases(workflow))
    assert vocabulary is not None
    return vocabulary


#: Right paths of 10 (node reached and tool called), and exact numbers among the 16 kHz
#: callers who read one. Measured (two runs, loaded machine): order_desk 7, numbers 2 of 3;
#: receptionist 7; order_status 10 (the tool is always called), numbers 1-2 of 5;
#: lead_qualification 6-8. The bounds sit one below the worst run: results move a little
#: between runs (cepstral-mean state, espeak). The issue's goal (8 of 10) is not met by
#: every template here; over full calls see tests/realtime/offline/.
@pytest.mark.parametrize(("template", "routes", "numbers"), [
    ("order_desk", 6, 1), ("receptionist", 6, 0), ("order_status", 9, 1),
    ("lead_qualification", 5, 0),
])
async def test_templates_take_the_right_path(workers, template: str, routes: int,
                                             numbers: int) -> None:
    """10 scripted espeak callers per template (voices/rates, phone 8 kHz and WebRTC 16 kHz)."""
    definition = TEMPLATES[template].build("http://127.0.0.1:9")
    vocabulary = _vocabulary(definition)
    scripts = SCRIPTS[template]
    results = []
    for i, (voice, wpm, rate) in enumerate(CALLERS):
        script = scripts[(i // 2) % len(scripts)]
        path = await _call(workers, definition, script, voice, wpm, rate, vocabulary)
        results.append((script, rate, path))
    report = "\n".join(f"{rate} {s.lines} took {path}" for s, rate, path in results)
    print(f"{template}:\n{report}")
    assert sum(_took(p, s.expect, numbers=False) for s, _, p in results) >= routes, report
    exact = [_took(p, s.expect, numbers=True) for s, rate, p in results
             if rate == 16000 and any(e.startswith("tool:") for e in s.expect)]
    assert sum(exact) >= numbers, report


def test_the_domain_model_hears_the_workflow_better_than_general_english(workers):
    """Why the domain model exists: the general model misses the words that route."""
    line = "I want the status of my order"
    general = [transcribe(workers, line, v, w, r, None) for v, w, r in CALLERS[:4]]
    biased = [transcribe(workers, line, v, w, r, _vocabulary()) for v, w, r in CALLERS[:4]]
    assert sum("order" in h for h in biased) >= 3
    assert sum("order" in h for h in general) < sum("order" in h for h in biased)


def test_domain_decoders_are_pooled_per_model():
    from loadgen.audio import frames
    from pipeline.engines.sphinx_decoders import DecoderPool

    pool = DecoderPool(max_idle=1)
    vocabulary = _vocabulary()
    decoder = pool.acquire((vocabulary.key, vocabulary.arpa))
    decoder.set_cmn(pool.initial_cmn)
    decoder.start_utt()
    for chunk in frames(speech_pcm("billing", 16000) + silence_pcm(0.3, 16000), 16000):
        decoder.process_raw(chunk, False, False)
    decoder.end_utt()
    assert decoder.hyp() is not None  # it decodes: the model's words are in its dictionary
    assert decoder.lookup_word("billing") and not decoder.lookup_word("zebra")
    pool.release(decoder)
    assert pool.acquire((vocabulary.key, vocabulary.arpa)) is decoder  # reused for its model
    general = pool.acquire()
    assert general is not decoder and general.lookup_word("zebra")


async def test_the_scripted_agent_never_speaks_a_prompt():
    """Nodes with a prompt and no ``say``: the caller hears neutral lines, never the prompt."""
    definition = {
        "nodes": [
            {"id": "start", "type": "start", "greeting": "Hello.",
             "prompt": "Find out what the caller wants."},
            {"id": "help", "type": "agent", "prompt": "Ask the caller for the details."},
            {"id": "bye", "type": "end", "prompt": "Thank the caller and say goodbye."},
        ],
        "edges": [
            {"from": "start", "to": "help", "condition": 'The caller needs help, e.g. "help"'},
            {"from": "help", "to": "bye", "condition": 'The caller is done, e.g. "goodbye"'},
        ],
    }  # fmt: skip
    session = create_session(definition, variables={}, model=OFFLINE)
    spoken = []
    for said in ("what is this", "I need help", "goodbye"):
        events = await _say(session, said)
        spoken.append("".join(e.text for e in events if isinstance(e, TextDelta)))
    assert spoken == ["Hello.", "Okay. How can I help you with that?",
                      "Thank you for calling. Goodbye."]
    assert session.current_node == "bye"
