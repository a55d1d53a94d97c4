"""How the offline scripted engine understands a caller without a language model.

Offline speech recognition is imperfect ("billing" can come back as "bill in"), and callers
never say an edge condition's exact words. So each handoff/tool description becomes an
*intent*: its content words (stemmed), widened by small built-in synonym groups ("order"
~ "package", "delivery"; "billing" ~ "charge", "invoice"), plus any quoted example phrases
("e.g. "where is my order""). A caller's words match a keyword exactly, through a synonym,
or by spelling/sound closeness (``difflib`` ratio or a Soundex-like key), and a word shared
by several of the node's intents counts for less (it does not tell them apart).

Numbers said as words become digits ("one two three four" -> "1234", "forty two" -> "42"),
so tools and variables get the number the caller meant.

:func:`workflow_phrases` lists what a workflow's callers are likely to say (for the offline
speech recogniser's domain language model).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runtime.workflow import Workflow

STOPWORDS = frozenset(
    """a an the and or but if of to in on at for with about from by is are was were be been
    am do does did has have had i me my you your we our they them it its this that these those
    caller user customer person lead wants want wanting asks ask asking says say said mentions
    mention would like could should can will please just some any there their then than
    when what which who whom how why where so agent call eg e g example examples all""".split()  # noqa: SIM905
)

#: Words that mean the same thing for routing. The first word names the group.
SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("order", "purchase", "package", "parcel", "delivery", "shipment", "shipping", "track",
     "tracking", "status"),
    ("billing", "bill", "charge", "charged", "invoice", "payment", "pay", "refund", "fee",
     "account", "price"),
    ("bye", "goodbye", "done", "finished", "thank", "thanks"),
    ("book", "appointment", "schedule", "reserve", "reservation", "booking", "visit"),
    ("yes", "yeah", "yep", "sure", "correct", "right", "okay", "ok", "absolutely", "definitely"),
    ("no", "nope", "not", "busy", "later"),
    ("question", "questions", "wondering", "information", "info"),
    ("hours", "open", "opening", "close", "closing"),
    ("location", "address", "located", "directions"),
    ("human", "operator", "representative", "someone", "person", "agent"),
    ("cancel", "cancellation", "stop"),
)
_GROUP: dict[str, str] = {}
for _group in SYNONYMS:
    for _word in _group:
        _GROUP.setdefault(_word, _group[0])

_WORD_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_QUOTED_RE = re.compile(r"[\"“]([^\"”]{2,})[\"”]")
_NUMBER_RE = re.compile(r"\d+")

_UNITS = {"zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
          "seven": 7, "eight": 8, "nine": 9}
#: Words that sound like a digit: digits only next to other digit words ("one two for").
_SOUNDALIKES = {"won": 1, "want": 1, "to": 2, "too": 2, "for": 4, "fore": 4, "ate": 8,
                "o": 0, "free": 3, "tree": 3}
_TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
          "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}


def stem(word: str) -> str:
    word = word.removesuffix("'s")
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def concept(word: str) -> str:
    """The synonym group of ``word`` (or its stem when it has none)."""
    return _GROUP.get(word) or _GROUP.get(stem(word)) or stem(word)


def sound_key(word: str) -> str:
    """A Soundex-like key: first letter, then consonant classes, no repeats or vowels."""
    classes = {**dict.fromkeys("bfpv", "1"), **dict.fromkeys("cgjkqsxz", "2"),
               **dict.fromkeys("dt", "3"), "l": "4", **dict.fromkeys("mn", "5"), "r": "6"}
    key, last = word[:1], classes.get(word[:1], "")
    for ch in word[1:]:
        code = classes.get(ch, "")
        if code and code != last:
            key += code
        if ch not in "hw":
            last = code
    return key[:4]


def spoken_numbers(text: str) -> str:
    """``text`` with numbers said as words written as digits, and spaced digits joined:
    "my order is one two three four" -> "my order is 1234"; "4 4 7 1" -> "4471".

    Words that sound like digits ("want to three four", as a recogniser may hear "one two
    three four") count as digits when they touch a run of real digit words.
    """
    words = text.lower().replace("-", " ").split()
    bare = [w.strip(".,!?") for w in words]
    digit = [w in _UNITS or w in _TEENS or w in _TENS or w.isdigit() for w in bare]
    for i, w in enumerate(bare):  # "oh" alone is an exclamation, not a zero
        if w == "oh" and not any(digit[j] and bare[j] != "oh" for j in (i - 1, i + 1)
                                 if 0 <= j < len(bare)):
            digit[i] = False
    changed = True
    while changed:  # soundalikes join a run of digits from either side
        changed = False
        for i, w in enumerate(bare):
            if not digit[i] and w in _SOUNDALIKES and any(
                digit[j] for j in (i - 1, i + 1) if 0 <= j < len(bare)
            ):
                digit[i] = changed = True
    out: list[str] = []
    run: list[str] = []
    i = 0
    while i < len(bare):
        w = bare[i]
        if not digit[i]:
            if run:
                out.append("".join(run))
                run = []
            out.append(words[i])
        elif w in _TENS:
            value = _TENS[w]
            if i + 1 < len(bare) and bare[i + 1] in _UNITS and _UNITS[bare[i + 1]] > 0:
                value += _UNITS[bare[i + 1]]
                i += 1
            run.append(str(value))
        elif w in _TEENS:
            run.append(str(_TEENS[w]))
        elif w in _UNITS:
            run.append(str(_UNITS[w]))
        elif w in _SOUNDALIKES:
            run.append(str(_SOUNDALIKES[w]))
        else:
            run.append(w)
        i += 1
    if run:
        out.append("".join(run))
    return " ".join(out)


def numbers_in(text: str) -> list[str]:
    return _NUMBER_RE.findall(spoken_numbers(text))


def words_of(text: str) -> list[str]:
    return _WORD_RE.findall(text.lower())


@dataclass(frozen=True, slots=True)
class Intent:
    """What a condition or tool description listens for."""

    concepts: frozenset[str]
    phrases: tuple[tuple[str, ...], ...]


@lru_cache(maxsize=1024)
def intent_of(description: str) -> Intent:
    phrases = tuple(tuple(words_of(p)) for p in _QUOTED_RE.findall(description))
    words = [w for w in words_of(description) if w not in STOPWORDS and not w.isdigit()]
    return Intent(frozenset(concept(w) for w in words), tuple(p for p in phrases if p))


def _close(word: str, keyword: str) -> bool:
    if len(word) < 4 or len(keyword) < 4:
        return False
    if SequenceMatcher(None, word, keyword).ratio() >= 0.8:
        return True
    return len(word) >= 5 and sound_key(word) == sound_key(keyword)


#: Score of a quoted example phrase heard whole (75 % of its words in order, every content
#: word among them), and of one heard in part (75 % of its words, a run of 3+ in order, but
#: a content word missing: "when are you ..." for "when are you open"): less than one
#: keyword, so a keyword of another intent still wins. (Half of a phrase was tried: the
#: recogniser's filler "what are you ..." then matched "what are your opening hours".)
PHRASE_SCORE = 3.0
PARTIAL_PHRASE_SCORE = 0.8


def _phrase_score(phrase: Sequence[str], said: Sequence[str]) -> float:
    if not phrase or len(said) < min(3, len(phrase) - 1):
        return 0.0
    blocks = SequenceMatcher(None, list(phrase), list(said), autojunk=False).get_matching_blocks()
    matched = sum(block.size for block in blocks)
    # Every content word of the phrase must be heard ("i want a ..." is not "i want a refund").
    whole = all(word in STOPWORDS or any(s == word or _close(s, word) for s in said)
                for word in phrase)
    if whole and matched >= max(1, round(0.75 * len(phrase))):
        return PHRASE_SCORE
    if max(block.size for block in blocks) >= 3 and matched >= round(0.75 * len(phrase)):
        return PARTIAL_PHRASE_SCORE
    return 0.0


def weights(intents: Iterable[Intent]) -> dict[str, float]:
    """Each concept's weight at a node: 1 / number of the node's intents that use it."""
    counts: dict[str, int] = {}
    for intent in intents:
        for c in intent.concepts:
            counts[c] = counts.get(c, 0) + 1
    return {c: 1.0 / n for c, n in counts.items()}


def score(intent: Intent, utterance: str, weight: dict[str, float] | None = None) -> float:
    """How well ``utterance`` matches ``intent`` (0 = not at all)."""
    said = words_of(spoken_numbers(utterance))
    content = [w for w in said if w not in STOPWORDS or w in _GROUP]
    heard = {concept(w) for w in content}
    total = 0.0
    for c in intent.concepts:
        w = (weight or {}).get(c, 1.0)
        if c in heard:
            total += w
        elif any(_close(word, c) for word in content):
            total += 0.7 * w
    total += sum(_phrase_score(phrase, said) for phrase in intent.phrases)
    return total


def workflow_phrases(texts: Iterable[str]) -> list[str]:
    """Phrases a workflow's callers are likely to say: the workflow's own texts (lines,
    conditions, examples, tool descriptions), the synonyms of the concepts they use, and
    the generic words of any call (digits, yes/no, thanks, goodbye)."""
    phrases: list[str] = []
    used: set[str] = set()
    for text in texts:
        clean = re.sub(r"\{\{[^}]*\}\}", " ", text)
        clean = _NARRATION_RE.sub(" ", clean)
        for sentence in re.split(r"[.?!;:,()]", clean):
            words = [w for w in words_of(sentence) if w not in _NARRATION]
            if words:
                phrases.append(" ".join(words))
                used.update(concept(w) for w in words)
        phrases.extend(" ".join(words_of(q)) for q in _QUOTED_RE.findall(clean))
    phrases.extend(GENERIC_PHRASES)
    # Any digit may follow any other (order numbers, phone numbers, dates): one phrase
    # holding every pair once (a de Bruijn sequence), so digits do not crowd sentence starts.
    names = list(_UNITS)[2:] + ["zero"]
    phrases.append("is " + " ".join(names[d] for d in _de_bruijn_pairs(10)))
    phrases.append("is oh " + " ".join(names[:9]) + " oh")
    return [p for p in dict.fromkeys(phrases) if p]


def _de_bruijn_pairs(n: int) -> list[int]:
    """A sequence of 0..n-1 in which every ordered pair appears once (n*n + 1 items)."""
    seen: set[tuple[int, int]] = set()
    seq = [0]
    while len(seq) < n * n + 1:
        last = seq[-1]
        nxt = next((d for d in range(n - 1, -1, -1) if (last, d) not in seen), None)
        if nxt is None:
            break
        seen.add((last, nxt))
        seq.append(nxt)
    return seq


_NARRATION_RE = re.compile(r"\b(?:the |a )?(?:caller|user|customer|lead|agent)s?\b", re.I)
#: Words that describe the conversation in conditions, never said by callers.
_NARRATION = frozenset({"caller", "callers", "user", "customer", "lead", "agent", "eg", "e", "g"})

GENERIC_PHRASES: tuple[str, ...] = (
    "yes", "no", "yes please", "no thanks", "okay", "sure", "thank you", "thanks bye",
    "goodbye", "that is all", "that's all thanks", "i have a question", "can you help me",
    "it is", "my number is", "the number is", "my order number is", "my account number is",
    "i want to speak to a human", "uh huh", "hello",
)


def caller_phrases(workflow: Workflow) -> list[str]:
    """:func:`workflow_phrases` of what ``workflow``'s callers may say: node names, edge
    conditions (with their example phrases) and tool descriptions.

    The agent's own lines (greetings, ``say``) are left out: callers do not repeat them, and
    their words ("you", "are", "glad") crowded the model (measured on 10 espeak callers x 4
    templates: routing 5.9 -> 6.2 of 10 on average without them).
    """
    texts: list[str] = [node.name for node in workflow.nodes if node.name]
    texts.extend(edge.condition for edge in workflow.edges if edge.condition)
    texts.extend(getattr(tool, "description", "") for tool in workflow.tools)
    return workflow_phrases(texts)
