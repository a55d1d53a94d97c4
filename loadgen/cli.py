"""``switchboard loadtest``: argument parsing and the command's entry point."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from loadgen.script import DENSE_RAMP_SECONDS, PACES, CallScript
from loadgen.targets import TwilioTarget, WebRTCTarget

if TYPE_CHECKING:
    from loadgen.runner import LoadPlan


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``loadtest`` subcommand on a top-level argparse ``subparsers``."""
    p = subparsers.add_parser(
        "loadtest",
        help="place concurrent scripted Twilio-like or WebRTC calls against a running server",
        description="Places N concurrent calls the way Twilio does (signed voice webhook, "
        "then a real-time μ-law media websocket), or as browser WebRTC peers (aiortc, "
        "--channel webrtc), and reports setup time, voice-to-voice latency and bot audio "
        "lateness (p50/p95/p99).",
    )
    p.add_argument("--url", default="http://127.0.0.1:8000", help="server base URL")
    p.add_argument(
        "--channel",
        choices=("twilio", "webrtc"),
        default="twilio",
        help="twilio: signed voice webhook + media websocket (default); webrtc: aiortc peers "
        "posting SDP offers to /api/v1/webrtc/offer (needs --workflow-id and --api-key)",
    )
    p.add_argument(
        "--workflow-id",
        default=None,
        help="webrtc: the workflow to call (its published version; see --draft)",
    )
    p.add_argument(
        "--api-key",
        default=os.environ.get("SWITCHBOARD_API_KEY"),
        help="webrtc: an API key (sk_...) or access token sent as a Bearer token "
        "(default: $SWITCHBOARD_API_KEY)",
    )
    p.add_argument("--draft", action="store_true", help="webrtc: call the workflow's draft version")
    p.add_argument("--webhook-path", default="/telephony/twilio/voice")
    p.add_argument(
        "--auth-token",
        default="loadtest-auth-token",
        help="Twilio auth token the server verifies signatures with",
    )
    p.add_argument("--account-sid", default="AC" + "0" * 32)
    p.add_argument("--from", dest="from_number", default="+15005550006")
    p.add_argument(
        "--to",
        dest="to_number",
        default="+15005550001",
        help="the dialled number (must route to a workflow on the server)",
    )
    p.add_argument(
        "--signed-url",
        default=None,
        help="URL to sign (the server's PUBLIC_URL + path) when it differs from --url",
    )
    p.add_argument("--calls", type=int, default=1, help="concurrent calls")
    p.add_argument(
        "--total-calls",
        type=int,
        default=None,
        help="calls in total (default: --calls); extra calls run as slots free up",
    )
    p.add_argument(
        "--pace",
        choices=sorted(PACES),
        default="sparse",
        help="caller profile: sparse (answers 1-2 s after the bot, short lines) or dense (answers "
        "0.3-0.8 s after the bot, 1.5-2.5 s lines, calls started over 5 s); --pause, "
        "--pause-jitter, --ramp and --line override its values",
    )
    p.add_argument(
        "--ramp",
        type=float,
        default=None,
        help="new calls per second while ramping (default: 10, or calls/5 with --pace dense)",
    )
    p.add_argument("--turns", type=int, default=3, help="caller turns per call")
    p.add_argument("--duration", type=float, default=None, help="cap on each call's media stream, seconds")
    p.add_argument(
        "--pause",
        type=float,
        default=None,
        help="silence after the bot finished before the caller speaks, seconds (default: the pace's)",
    )
    p.add_argument(
        "--pause-jitter",
        type=float,
        default=None,
        help="up to this much extra random pause per turn, seconds (desynchronizes calls; "
        "default: the pace's)",
    )
    p.add_argument("--barge-in-every", type=int, default=0, help="barge in on every n-th answer (0: never)")
    p.add_argument(
        "--no-greeting",
        action="store_true",
        help="do not wait for a greeting before the first turn",
    )
    p.add_argument(
        "--line",
        action="append",
        default=None,
        help="caller line (repeatable; default: a built-in booking dialogue)",
    )
    p.add_argument(
        "--json", dest="json_out", default=None, help="write the JSON summary here ('-' for stdout)"
    )
    p.add_argument("--quiet", action="store_true", help="no live progress line")
    p.set_defaults(func=run_command)
    return p


def config_from_args(
    args: argparse.Namespace,
) -> tuple[TwilioTarget | WebRTCTarget, CallScript, LoadPlan]:
    target: TwilioTarget | WebRTCTarget
    if args.channel == "webrtc":
        if not args.workflow_id or not args.api_key:
            raise SystemExit("switchboard loadtest: --channel webrtc needs --workflow-id and --api-key")
        target = WebRTCTarget(
            base_url=args.url, workflow_id=args.workflow_id, api_key=args.api_key, test=args.draft
        )
    else:
        target = TwilioTarget(
            base_url=args.url,
            webhook_path=args.webhook_path,
            auth_token=args.auth_token,
            account_sid=args.account_sid,
            from_number=args.from_number,
            to_number=args.to_number,
            signed_url=args.signed_url,
        )
    pace = PACES[args.pace]
    script = replace(
        pace,
        turns=args.turns,
        lines=tuple(args.line) if args.line else pace.lines,
        pause=pace.pause if args.pause is None else args.pause,
        pause_jitter=pace.pause_jitter if args.pause_jitter is None else args.pause_jitter,
        barge_in_every=args.barge_in_every,
        max_duration=args.duration,
        expect_greeting=not args.no_greeting,
    )
    from loadgen.runner import LoadPlan  # the callers (aiortc, websockets) load only to run

    ramp = args.ramp
    if ramp is None:
        ramp = max(args.calls / DENSE_RAMP_SECONDS, 0.2) if args.pace == "dense" else 10.0
    plan = LoadPlan(concurrency=args.calls, total_calls=args.total_calls, ramp_per_second=ramp)
    return target, script, plan


async def main(args: argparse.Namespace) -> int:
    """Run the load test; exit status 0 when every call completed, 1 otherwise."""
    from loadgen.report import summarize, summary_table
    from loadgen.runner import run_load

    target, script, plan = config_from_args(args)
    results = await run_load(target, script, plan, progress_stream=None if args.quiet else sys.stderr)
    config = {
        "url": target.base_url,
        "channel": args.channel,
        "calls": plan.concurrency,
        "total_calls": plan.total_calls or plan.concurrency,
        "ramp": plan.ramp_per_second,
        "turns": script.turns,
        "pace": args.pace,
        "duration": script.max_duration,
        "barge_in_every": script.barge_in_every,
    }
    summary = summarize(results, config=config)
    print(summary_table(summary), file=sys.stderr if args.json_out == "-" else sys.stdout)
    if args.json_out == "-":
        json.dump(summary, sys.stdout, indent=2)
        print()
    elif args.json_out:
        Path(args.json_out).write_text(json.dumps(summary, indent=2))  # noqa: ASYNC240
    return 0 if summary["calls"]["failed"] == 0 else 1


def run_command(args: argparse.Namespace) -> int:
    """The synchronous ``func(args) -> int`` that ``switchboard`` calls."""
    return asyncio.run(main(args))


def main_standalone(argv: list[str] | None = None) -> int:
    """``python -m loadgen [options]``: the same command without the ``switchboard`` CLI."""
    parser = argparse.ArgumentParser(prog="python -m loadgen")
    sub = parser.add_subparsers(dest="command")
    add_parser(sub)
    args = parser.parse_args(["loadtest", *(sys.argv[1:] if argv is None else argv)])
    return run_command(args)
