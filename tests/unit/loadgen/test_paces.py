"""Caller profiles: ``--pace dense`` answers 0.3-0.8 s after the bot with 1.5-2.5 s of speech
per turn and starts its calls over 5 s; explicit options override the profile."""

from __future__ import annotations

import argparse

import pytest

from loadgen.cli import add_parser, config_from_args
from loadgen.script import PACES
from loadgen.speech import utterance


def _config(*argv: str):
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    return config_from_args(parser.parse_args(["loadtest", "--url", "http://h:1", *argv]))


def test_dense_answers_within_0_3_to_0_8_seconds_of_the_bot_and_ramps_over_5_seconds() -> None:
    _, script, plan = _config("--pace", "dense", "--calls", "40")
    earliest = script.quiet + script.pause
    latest = earliest + script.pause_jitter
    assert (earliest, latest) == pytest.approx((0.3, 0.8))
    assert plan.ramp_per_second == pytest.approx(8.0)  # 40 calls over 5 s


def test_sparse_stays_the_default_profile() -> None:
    _, script, plan = _config("--calls", "40")
    assert script == PACES["sparse"]
    assert plan.ramp_per_second == 10.0
    assert script.quiet + script.pause == pytest.approx(1.0)


def test_explicit_options_override_the_profile() -> None:
    _, script, plan = _config("--pace", "dense", "--pause", "1.5", "--ramp", "2", "--line", "Hi.")
    assert script.pause == 1.5 and script.pause_jitter == 0.5
    assert script.lines == ("Hi.",)
    assert plan.ramp_per_second == 2.0


@pytest.mark.parametrize("line", PACES["dense"].lines)
def test_dense_lines_are_1_5_to_2_5_seconds_of_real_speech(line: str) -> None:
    assert 1.5 <= utterance(line).seconds <= 2.5
