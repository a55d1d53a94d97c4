"""A small domain language model for PocketSphinx, built from a workflow's own phrases.

PocketSphinx's general English model hears espeak callers badly ("billing" -> "really",
"my order number is one two three four" -> "or the reason why you do free full"). Decoding
against a bigram model of the phrases a workflow's callers are likely to say (its lines,
edge conditions and their example phrases, synonyms, digits, yes/no: see
``runtime.offline_understanding.workflow_phrases``) turns those into exact transcripts
("my order number is one two three four", "billing"). The price: speech outside that
vocabulary comes back as the nearest in-domain words, which is the trade an offline demo
that must follow its own workflow wants (measured in tests/realtime/pipeline).

The model is plain ARPA text (a few KB), keyed by its hash: each worker process receives a
model once and keeps decoders for it (``DecoderPool.acquire((key, arpa))``, a decoder whose
dictionary holds only the model's words), shared by every call on the same workflow.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

_WORD_RE = re.compile(r"[a-z]+(?:'[a-z]+)?")
#: Probability mass bigrams keep; the rest backs off to unigrams.
_BIGRAM_SHARE = 0.7
#: At most this many phrases (a workflow's texts are bounded, this bounds the work too).
MAX_PHRASES = 2_000


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """A domain language model: ``key`` names it in decoder processes, ``arpa`` is the text."""

    key: str
    arpa: str


def domain_vocabulary(phrases: Iterable[str]) -> Vocabulary | None:
    """The bigram model of ``phrases`` (``None`` when they hold no words)."""
    sentences = []
    for phrase in list(phrases)[:MAX_PHRASES]:
        words = _WORD_RE.findall(phrase.lower())
        if words:
            sentences.append(words)
    if not sentences:
        return None
    arpa = _arpa(sentences)
    return Vocabulary(key="dom-" + hashlib.sha1(arpa.encode()).hexdigest()[:16], arpa=arpa)  # noqa: S324


def _arpa(sentences: list[list[str]]) -> str:
    unigrams: Counter[str] = Counter()
    bigrams: Counter[tuple[str, str]] = Counter()
    for words in sentences:
        padded = ["<s>", *words, "</s>"]
        unigrams.update(padded)
        bigrams.update(zip(padded, padded[1:], strict=False))
    total = sum(unigrams.values())
    backoff = math.log10(1 - _BIGRAM_SHARE)
    lines = ["\\data\\", f"ngram 1={len(unigrams)}", f"ngram 2={len(bigrams)}", "", "\\1-grams:"]
    for word, n in sorted(unigrams.items()):
        prob = -99.0 if word == "<s>" else math.log10(n / total)
        lines.append(f"{prob:.4f} {word} {backoff:.4f}")
    lines += ["", "\\2-grams:"]
    for (first, second), n in sorted(bigrams.items()):
        lines.append(f"{math.log10(_BIGRAM_SHARE * n / unigrams[first]):.4f} {first} {second}")
    lines += ["", "\\end\\", ""]
    return "\n".join(lines)


#: Digit words, and what callers say before a number (``[lead] digit+`` is the grammar of
#: the second pass over utterances the domain model heard digits in).
DIGIT_WORDS = ("zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight",
               "nine")
NUMBER_LEADS = ("my order number is", "my order number", "my order is", "my order",
                "order number", "order", "the number is", "my number is", "number", "it is",
                "that is", "yes", "yes it is")
#: The name of the digit grammar search on domain decoders.
DIGITS_SEARCH = "digits"


def digits_grammar(known: set[str]) -> str | None:
    """A JSGF grammar ``[lead] digit+`` over the words a decoder knows (``None`` without
    digits): a number read out, and nothing else, so "four" cannot become "all or"."""
    digits = [w for w in DIGIT_WORDS if w in known]
    if len(digits) < 10:
        return None
    leads = [lead for lead in NUMBER_LEADS if all(w in known for w in lead.split())]
    body = "<digit>+" if not leads else "[<lead>] <digit>+"
    lines = ["#JSGF V1.0;", "grammar digits;", "<digit> = " + " | ".join(digits) + ";"]
    if leads:
        lines.append("<lead> = " + " | ".join(leads) + ";")
    lines.append(f"public <number> = {body};")
    return "\n".join(lines) + "\n"


def reads_digits(hypothesis: str) -> bool:
    """Whether the domain model heard a number (2+ digit words): worth the digit pass."""
    return sum(word in DIGIT_WORDS and word != "oh" for word in hypothesis.split()) >= 2
