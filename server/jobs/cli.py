"""``switchboard worker``: run background jobs in a process of their own."""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any


def cmd_worker(args: argparse.Namespace) -> int:
    from server.app import open_services
    from server.jobs import run_worker
    from server.log_config import configure_logging
    from server.settings import load_settings

    settings = load_settings()
    configure_logging(settings)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with open_services(settings) as services, run_worker(services):
            await stop.wait()

    asyncio.run(main())
    return 0


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("worker", help="run background jobs (post-call analysis, webhooks)")
    parser.set_defaults(func=cmd_worker)
