"""The scripted engine's understanding: digits said as words, fuzzy intents, no prompts."""

from __future__ import annotations

from runtime.offline_model import offline_line
from runtime.offline_understanding import intent_of, numbers_in, score, spoken_numbers, weights
from runtime.templates import order_desk
from runtime.workflow import Node


def test_numbers_said_as_words_become_digits():
    assert spoken_numbers("my order number is one two three four") == "my order number is 1234"
    assert numbers_in("it is 4 4 7 1") == ["4471"]
    assert numbers_in("forty two") == ["42"]
    assert numbers_in("one oh one") == ["101"]
    assert numbers_in("order want to three four") == ["1234"]  # soundalikes next to digits
    assert spoken_numbers("I want to book") == "i want to book"
    assert spoken_numbers("oh I see") == "oh i see"


def test_intents_match_synonyms_misrecognitions_and_examples():
    orders, billing = (intent_of(e["condition"]) for e in order_desk()["edges"][:2])
    weight = weights([orders, billing])

    def best(said: str) -> str:
        scores = {"orders": score(orders, said, weight), "billing": score(billing, said, weight)}
        top = max(scores, key=lambda k: scores[k])
        return top if scores[top] > 0.5 else "none"

    assert best("where is my package") == "orders"  # synonym
    assert best("I was charged twice") == "billing"  # synonym through the stem
    assert best("billings") == "billing"  # close spelling
    assert best("i want a that on my order") == "orders"  # "i want a" is not "i want a refund"
    assert best("what time is it") == "none"


def test_a_prompt_is_never_spoken():
    node = Node(id="n", type="agent", prompt="Find out what the caller wants.")
    assert "Find out" not in offline_line(node)
    assert offline_line(Node(id="e", type="end", prompt="Say bye")) == (
        "Thank you for calling. Goodbye.")
    assert offline_line(Node(id="s", type="agent", say="Hello.")) == "Hello."
