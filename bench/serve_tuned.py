"""``switchboard serve`` with the start-up heap frozen out of the garbage collector.

An experiment for the benchmark (``bench/run.py --systems switchboard-gc-freeze``), not a
second way to run Switchboard: it imports what a call needs, loads the shared Silero and
Smart Turn models, runs one full collection and ``gc.freeze()``s the result, then runs
the normal ``switchboard serve``. A full (generation 2) collection otherwise traverses the
whole start-up heap — measured at 300-450 ms on the benchmark machine — and blocks the
event loop of every live call while it runs, which is what makes bot audio late.
"""

from __future__ import annotations

import gc
import sys


def main() -> int:
    import pipecat.services.deepgram.flux.stt  # noqa: F401
    import pipecat.services.deepgram.stt  # noqa: F401
    import pipecat.services.openai.tts  # noqa: F401

    import pipeline.builder  # noqa: F401
    import runtime.sessions  # noqa: F401
    import server.app  # noqa: F401
    from pipeline.turn_models import silero_session, smart_turn_session
    from server.cli import main as cli_main

    silero_session()
    smart_turn_session()
    gc.collect()
    gc.freeze()
    return cli_main(sys.argv[1:] or ["serve"])


if __name__ == "__main__":
    sys.exit(main())
