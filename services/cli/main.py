"""``redshield`` — one command for everything."""

from __future__ import annotations

import argparse
import sys

from services.runtime.settings import SERVICES


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from services.cli.registry import build
    from services.runtime import logs
    from services.runtime.settings import SharedSettings

    shared = SharedSettings()
    logs.setup(args.service, shared.log_level, shared.log_json)
    service, app = build(args.service)
    service.migrate()
    config = uvicorn.Config(
        app,
        host=service.settings.host,
        port=args.port or service.settings.port,
        log_config=None,
        access_log=False,
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=10,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 1


def _token(args: argparse.Namespace) -> int:
    from services.runtime.auth import Role, issue, signing_key
    from services.runtime.settings import SharedSettings

    shared = SharedSettings()
    role = Role(args.role)
    subject = args.subject or {Role.PLATFORM: f"platform:{args.platform}", Role.BUREAU: f"bureau:{args.region}"}.get(
        role, f"{role.value}:dev"
    )
    print(
        issue(
            signing_key(shared),
            role=role,
            subject=subject,
            platform_id=args.platform,
            region=args.region,
            ttl_seconds=args.ttl_hours * 3600,
            issuer=shared.jwt_issuer,
        )
    )
    return 0


def _up(args: argparse.Namespace) -> int:
    from services.cli.up import run

    return run(demo=not args.no_demo)


def _demo(args: argparse.Namespace) -> int:
    import asyncio

    from services.cli.demo import run

    return asyncio.run(
        run(complaints=args.complaints, channel_url=args.channel_url, seed=args.seed, world=args.world,
            bridge_url=args.bridge_url, answer_seconds=args.answer_seconds)
    )


def _submit(args: argparse.Namespace) -> int:
    from services.cli.submit import main as run_submit

    return run_submit(args)


def _dlq(args: argparse.Namespace) -> int:
    from services.cli.dlq import main as run_dlq

    return run_dlq(args)


def _bench(args: argparse.Namespace) -> int:
    """Each benchmark lives beside what it measures and is imported only when asked for (they pull in a lot)."""
    import asyncio

    if args.what == "pipeline":
        from services.cli.bench_pipeline import run

        return asyncio.run(run(events=args.events, platforms=args.platforms))
    if args.what == "subjects":
        from services.bridge.bench import run as run_subjects

        return asyncio.run(run_subjects(args.stores))
    if args.what == "intake":
        from services.cli.bench_intake import main as run_intake

        return run_intake(args)
    if args.what == "analytics":
        from services.analytics.bench import main as run_analytics

        return run_analytics(args)
    if args.what == "relay":
        from services.cli.bench_relay import run as run_relay

        return asyncio.run(run_relay(args.events, args.bundle_events))
    print(f"unknown benchmark {args.what!r}", file=sys.stderr)
    return 2


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="redshield", description="redshield: supervision of e-commerce platforms, event by event.")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run one service (HTTP + Kafka consumers + outbox relay)")
    serve.add_argument("service", choices=SERVICES)
    serve.add_argument("--port", type=int, default=0, help="override the service's port")
    serve.set_defaults(func=_serve)

    token = sub.add_parser("token", help="issue a dev bearer token")
    token.add_argument("--role", required=True, choices=["platform", "bureau", "regulator", "auditor", "admin"])
    token.add_argument("--platform", help="platform id (role platform)")
    token.add_argument("--region", help="6-digit region code (role bureau)")
    token.add_argument("--subject")
    token.add_argument("--ttl-hours", type=int, default=12)
    token.set_defaults(func=_token)

    up = sub.add_parser("up", help="Kafka + the five services as separate processes, with a demo feed")
    up.add_argument("--no-demo", action="store_true")
    up.set_defaults(func=_up)

    demo = sub.add_parser("demo", help="post a small demo feed through the real API and Kafka feeds")
    demo.add_argument("--complaints", type=int, default=60)
    demo.add_argument("--channel-url", default="http://127.0.0.1:8102")
    demo.add_argument("--world", choices=["small", "hangzhou"], default="hangzhou",
                      help="small: five platforms; hangzhou: 110 platforms (15 connected), ~5,000 stores")
    demo.add_argument("--bridge-url", default=None, help="default: bridge's port from settings (8101)")
    demo.add_argument("--answer-seconds", type=float, default=None, help="how long connected platforms keep answering")
    demo.add_argument("--seed", type=int, default=2026, help="same seed, same complaints (a rerun files only duplicates)")
    demo.set_defaults(func=_demo)

    submit = sub.add_parser("submit", help="a platform uploads its semi-annual store list to bridge, resuming a broken upload")
    submit.add_argument("file", help="the store list, NDJSON (one store a line) or CSV with a header")
    submit.add_argument("--platform", required=True, help="the platform's id (its token must be for it)")
    submit.add_argument("--period", required=True, help="the half-year the list is for, e.g. 2026H1")
    submit.add_argument("--format", choices=["ndjson", "csv"], help="default: from the file's suffix (.csv, else NDJSON)")
    submit.add_argument("--key", help="Idempotency-Key (default: made from platform, period, file name, size and time)")
    submit.add_argument("--bridge-url", default="http://127.0.0.1:8101")
    submit.add_argument("--token", help="the platform's bearer token (default: REDSHIELD_TOKEN)")
    submit.add_argument("--attempts", type=int, default=5, help="uploads and resumes to try before giving up")
    submit.set_defaults(func=_submit)

    dlq = sub.add_parser("dlq", help="a consumer's dead letters: count them, send them back once the cause is fixed")
    dlq_actions = dlq.add_subparsers(dest="action", required=True)
    for action, text in (("show", "count dlq.<consumer>.v1 by reason and original topic"),
                         ("replay", "send dead letters back to their original topic (each consumer applies a record once)")):
        one = dlq_actions.add_parser(action, help=text)
        one.add_argument("--consumer", required=True, help="consumer group: analytics, channel, channel-answers, channel-directory")
        if action == "show":
            one.add_argument("--limit", type=int, default=10, help="records to list")
        else:
            one.add_argument("--reason", action="append",
                             help="x-dlq-reason to send back, repeatable; 'all' for every reason (default: processing-failed)")
            one.add_argument("--dry-run", action="store_true", help="count what would be sent, send nothing")
    dlq.set_defaults(func=_dlq)

    bench = sub.add_parser("bench", help="benchmarks that print a table and a JSON line of figures")
    kinds = bench.add_subparsers(dest="what", required=True)
    pipeline = kinds.add_parser("pipeline", help="feed → channel → Kafka → analytics → ClickHouse, end to end")
    pipeline.add_argument("--events", type=int, default=20000)
    pipeline.add_argument("--platforms", type=int, default=8)
    subjects = kinds.add_parser("subjects", help="bridge: one platform's whole merchant list as a streamed submission")
    subjects.add_argument("--stores", type=int, default=100_000, help="stores in the synthetic submission")
    intake = kinds.add_parser("intake", help="channel: single HTTP intake per process, batches and the Kafka feed")
    intake.add_argument("--complaints", type=int, default=20_000, help="complaints per intake path")
    intake.add_argument("--concurrency", type=int, default=32, help="HTTP clients in flight for single intake")
    intake.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite",
                        help="postgres reads REDSHIELD_BENCH_DATABASE_URL")
    analytics = kinds.add_parser("analytics", help="analytics: Kafka → ClickHouse ingest rate and cockpit latency at scale")
    analytics.add_argument("--events", type=int, default=200_000, help="events for the ingest run")
    analytics.add_argument("--scales", default="10000000,100000000",
                           help="comma-separated complaint counts bulk-generated inside ClickHouse for the cockpit runs")
    analytics.add_argument("--queries", type=int, default=50, help="requests per cockpit endpoint at each scale")
    analytics.add_argument("--rounds", type=int, default=3,
                           help="rounds of raw chDB insert then ingest, back to back; the figures are their medians")
    analytics.add_argument("--raw-batches", default="",
                           help="comma-separated batch sizes at which to measure the raw chDB insert as well (shown, not in the ratio)")
    relay = kinds.add_parser("relay", help="runtime: the outbox relay publishing a large outbox of store events")
    relay.add_argument("--events", type=int, default=200_000, help="store events in the outbox")
    relay.add_argument("--bundle-events", type=int, default=None,
                       help="events per outbox row (default: as bridge writes a submission's; services/runtime/bundles.py); 0: one each")
    bench.set_defaults(func=_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
