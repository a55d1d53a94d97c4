"""The CLI starts without the voice stack: only `serve` and call paths import pipecat."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
from server.cli import build_parser
parser = build_parser({argv!r})
try:
    parser.parse_args({argv!r} + ["--help"])
except SystemExit:
    pass
heavy = sorted(m for m in ("pipecat", "agents", "aiortc", "openai") if m in sys.modules)
print("HEAVY=" + ",".join(heavy))
"""


@pytest.mark.parametrize("argv", [[], ["migrate"], ["create-org"], ["set-plan"], ["serve"]])
def test_cli_commands_do_not_import_the_voice_stack(argv: list[str]) -> None:
    result = subprocess.run(  # a fresh interpreter: this test process imported it all already
        [sys.executable, "-c", PROBE.format(argv=argv)],
        capture_output=True, text=True, timeout=120, check=True,
    )
    assert result.stdout.strip().splitlines()[-1] == "HEAVY=", result.stdout


def test_a_subsystem_command_is_loaded_when_it_runs() -> None:
    from server.cli import build_parser

    parser = build_parser(["worker"])
    args = parser.parse_args(["worker"])
    assert callable(args.func)  # the real parser (from server.jobs.cli), not the listing stub
