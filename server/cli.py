"""The ``switchboard`` command: serve, migrate, create-org (and subsystems' commands).

Start-up stays fast (well under 2 s): nothing here imports the voice stack (pipecat, the
agent runtime) at module level. Each command imports what it needs when it runs, and a
subsystem's command module is imported only when that command is invoked
(tests/unit/server/test_cli_imports.py checks it).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from collections.abc import Callable
from typing import Any

from server.settings import Settings, SettingsError, load_settings

# Extra subcommands contributed by subsystems: (command, module path, register function,
# one-line help). register(subparsers) adds the parser whose ``func(args) -> int`` runs the
# command; the module is imported only when its command is the one being run.
EXTRA_COMMANDS: list[tuple[str, str, str, str]] = [
    ("loadtest", "loadgen.cli", "add_parser",  # found at run time, never imported statically
     "place concurrent scripted Twilio-like or WebRTC calls against a running server"),
    ("worker", "server.jobs.cli", "add_parser",
     "run background jobs (post-call analysis, webhooks)"),
    ("rotate-keys", "server.auth.cli", "add_parser",
     "re-encrypt stored secrets with the first key of SECRET_KEYS"),
    ("eval", "bench.turns.cli", "add_parser",
     "evaluate conversation quality: 'eval turns' (turn-taking and barge-in)"),
    ("billing", "server.billing.stripe_cli", "add_parser",
     "Stripe billing: reconcile local minutes with the meter (billing reconcile --period)"),
]


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for name in ("host", "port", "workers"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return load_settings(**overrides)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.http_protocol import http_protocol_options

    settings = _settings(args)
    uvicorn.run(
        "server.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_config=None,
        proxy_headers=True,
        forwarded_allow_ips=args.forwarded_allow_ips,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds) + 5,
        ws_max_size=args.ws_max_size,
        **http_protocol_options(args.max_header_bytes),
    )
    return 0


async def _with_database(settings: Settings, work: Callable[[str], Any]) -> Any:
    from db.embedded import EmbeddedPostgres

    if settings.database_url:
        return await work(settings.database_url)
    embedded = EmbeddedPostgres(settings.data_dir / "postgres")
    url = await embedded.start()
    try:
        return await work(url)
    finally:
        await embedded.stop()


def cmd_migrate(args: argparse.Namespace) -> int:
    from db.migrate import migrate_url

    settings = _settings(args)
    applied = asyncio.run(_with_database(settings, migrate_url))
    print("applied: " + ", ".join(applied) if applied else "database is up to date")
    return 0


def cmd_create_org(args: argparse.Namespace) -> int:
    from db.migrate import migrate_url
    from db.pool import create_pool
    from server.auth.identity import bootstrap_organization

    settings = _settings(args)
    password = args.password or secrets.token_urlsafe(12)

    async def work(url: str) -> Any:
        await migrate_url(url)
        pool = await create_pool(url, min_size=1, max_size=2)
        try:
            return await bootstrap_organization(
                pool, organization_name=args.name, email=args.email, password=password,
                plan=settings.plan_catalog.get(settings.default_plan),
            )
        finally:
            await pool.close()

    org, key = asyncio.run(_with_database(settings, work))
    print(f"organization: {org['name']} ({org['id']})")
    print(f"owner:        {args.email}" + ("" if args.password else f"  password: {password}"))
    print(f"api key:      {key.secret}")
    print("Store the API key now: it is shown only once.")
    return 0


def cmd_set_plan(args: argparse.Namespace) -> int:
    import uuid

    from db.migrate import migrate_url
    from db.pool import create_pool
    from server.billing.plans import change_plan

    settings = _settings(args)

    async def work(url: str) -> Any:
        await migrate_url(url)
        pool = await create_pool(url, min_size=1, max_size=2)
        try:
            return await change_plan(pool, uuid.UUID(args.org), args.plan,
                                     catalog=settings.plan_catalog)
        finally:
            await pool.close()

    try:
        row = asyncio.run(_with_database(settings, work))
    except ValueError as exc:  # UnknownPlan
        print(f"switchboard: {exc}", file=sys.stderr)
        return 2
    if row is None:
        print(f"switchboard: no organization {args.org}", file=sys.stderr)
        return 1
    print(f"organization {row['id']}: plan {row['plan']}")
    return 0


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The command-line parser; ``argv`` decides which subsystem command (if any) gets its
    full parser (the others are listed with their help line only)."""
    parser = argparse.ArgumentParser(
        prog="switchboard", description="Self-hostable real-time voice agent server."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the HTTP/websocket server")
    serve.add_argument("--host", help="bind address (default: HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: PORT or 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (default: WORKERS or 1)")
    serve.add_argument("--forwarded-allow-ips", default="127.0.0.1",
                       help="proxies whose X-Forwarded-* headers are trusted")
    serve.add_argument("--ws-max-size", type=int, default=262_144,
                       help="largest websocket message accepted, in bytes (default 262144)")
    serve.add_argument("--max-header-bytes", type=int, default=65_536,
                       help="largest request line + headers accepted, in bytes; larger "
                       "requests are refused with 431 (default 65536)")
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="apply pending database migrations")
    migrate.set_defaults(func=cmd_migrate)

    org = sub.add_parser("create-org", help="create an organization, its owner and an API key")
    org.add_argument("--name", required=True, help="organization name")
    org.add_argument("--email", required=True, help="owner's email (created if new)")
    org.add_argument("--password", help="owner's password when the user is new "
                     "(default: generated and printed)")
    org.set_defaults(func=cmd_create_org)

    plan = sub.add_parser("set-plan", help="set an organization's plan ('suspended' blocks calls)")
    plan.add_argument("--org", required=True, help="organization id")
    plan.add_argument("--plan", required=True, help="free, pro, scale, suspended or a PLANS_FILE plan")
    plan.set_defaults(func=cmd_set_plan)

    requested = _requested_command(sys.argv[1:] if argv is None else argv)
    for command, module_name, attr, help_text in EXTRA_COMMANDS:
        if command != requested:
            sub.add_parser(command, help=help_text)  # listed; loaded only when run
            continue
        import importlib

        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue  # subsystem not installed in this build
            raise
        getattr(module, attr)(sub)
    return parser


def _requested_command(argv: list[str]) -> str | None:
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SettingsError as exc:
        print(f"switchboard: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
