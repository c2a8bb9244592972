"""The `haven` command line. Listings and summaries are tables on a terminal and JSON
when piped or with `--json`; everything else prints JSON (or a clear error on stderr)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import msgspec

from exchange import db, match_cli, serve, terminal
from exchange.access import store as access_store
from exchange.access import tokens
from exchange.audit import store as audit
from exchange.beds import registry
from exchange.beds import store as beds_store
from exchange.errors import CliError, HavenError
from exchange.interop import commands as interop
from exchange.settings import Settings, from_env
from schema.placements import Agency
from schema.registry import NewShelter, RegionCode

T = TypeVar("T")


def _print(obj: object) -> None:
    sys.stdout.write(msgspec.json.encode(obj).decode() + "\n")


async def _with_conn(settings: Settings, fn: Callable[[Any], Awaitable[T]]) -> T:
    conn = await db.connect(db.database_url(settings))
    try:
        await db.migrate(conn)
        return await fn(conn)
    finally:
        await conn.close()


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from exchange.ops import logs

    serve.check_port(settings.host, settings.port)
    # Stopped by SIGTERM (kill, systemd, Docker), exit like Ctrl-C does: uvicorn shuts
    # down gracefully, then re-raises the signal to this handler, and the exit runs the
    # atexit handlers (the embedded PostgreSQL's stop) that the default action would skip.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    logs.configure(settings.log_level)
    url = db.database_url(settings)
    asyncio.run(_migrate(url))
    # Workers read their settings from the environment in app_from_env.
    os.environ["DATABASE_URL"] = url
    os.environ["HAVEN_HOST"], os.environ["HAVEN_PORT"] = settings.host, str(settings.port)
    uvicorn.run(
        "exchange.app:app_from_env", factory=True, workers=args.workers, **serve.options(settings)
    )
    return 0


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


async def _migrate(url: str) -> list[str]:
    conn = await db.connect(url)
    try:
        return await db.migrate(conn)
    finally:
        await conn.close()


def cmd_db_migrate(args: argparse.Namespace, settings: Settings) -> int:
    applied = asyncio.run(_migrate(db.database_url(settings)))
    _print({"applied": applied})
    return 0


def _rules_from_args(args: argparse.Namespace) -> dict[str, Any]:
    rules: dict[str, Any] = {}
    for key in ("max_children", "min_age", "max_age"):
        if getattr(args, key) is not None:
            rules[key] = getattr(args, key)
    if args.mat_ok:
        rules["mat_ok"] = True
    for key in ("excluded_offenses", "languages"):
        if getattr(args, key) is not None:
            rules[key] = registry.parse_list(key, getattr(args, key))
    return rules


def _csv(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def cmd_shelter_add(args: argparse.Namespace, settings: Settings) -> int:
    try:
        beds = registry.parse_beds(args.beds)
        record: dict[str, Any] = {
            "name": args.name,
            "region": args.region,
            "lat": args.lat,
            "lon": args.lon,
            "beds": beds,
            "confidential": args.confidential,
            "rules": _rules_from_args(args),
        }
        if args.services is not None:
            record["services"] = registry.parse_list("services", args.services)
        for key in ("address", "intake_phone"):
            if getattr(args, key) is not None:
                record[key] = getattr(args, key)
        shelter = msgspec.convert(record, NewShelter)
    except (ValueError, msgspec.ValidationError) as exc:
        raise CliError(str(exc)) from None
    shelter_id, token = asyncio.run(
        _with_conn(settings, lambda c: registry.add_shelter(c, shelter))
    )
    _print({"id": shelter_id, "token": token})
    return 0


def cmd_shelter_import(args: argparse.Namespace, settings: Settings) -> int:
    if args.format in ("hsds", "hud"):
        return interop.import_shelters(args, settings)
    path = Path(args.file)
    try:
        text = path.read_text()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    try:
        is_csv = path.suffix.lower() == ".csv" or (args.format == "csv")
        shelters = registry.parse_csv(text) if is_csv else registry.parse_jsonl(text)
    except HavenError as exc:
        raise CliError(f"{path}: {exc}; nothing was imported") from None
    if not shelters:
        raise CliError(f"{path}: no shelters in the file; nothing was imported")
    added = asyncio.run(_with_conn(settings, lambda c: registry.add_shelters(c, shelters)))
    if terminal.for_people(args):
        rows = [(i, s.name, s.region, t) for (i, t), s in zip(added, shelters, strict=True)]
        terminal.table(
            "Imported (each token is shown only now)", ["id", "name", "region", "token"], rows
        )
    else:
        _print([{"id": i, "token": t} for i, t in added])
    return 0


def cmd_shelter_reset_seq(args: argparse.Namespace, settings: Settings) -> int:
    shelter_id = args.id.lower()
    if args.to < 0:
        raise CliError(f"--to must be >= 0, not {args.to}")
    try:
        was = asyncio.run(
            _with_conn(settings, lambda c: beds_store.reset_seq(c, shelter_id, args.to))
        )
    except LookupError:
        raise CliError(f"no shelter {shelter_id}; `haven shelter list` shows them") from None
    _print({"id": shelter_id, "last_seq": args.to, "was": was})
    return 0


def cmd_shelter_list(args: argparse.Namespace, settings: Settings) -> int:
    if not terminal.for_people(args):
        rows = asyncio.run(
            _with_conn(settings, lambda c: beds_store.list_shelters(c, args.region or None))
        )
        _print(rows)
        return 0

    async def both(conn: Any) -> tuple[list[Any], dict[str, Any]]:
        listed = await beds_store.list_shelters(conn, args.region or None)
        board = await beds_store.load_board(conn)
        return listed, {s.id: s for s in board.shelters}

    listed, live = asyncio.run(_with_conn(settings, both))
    table = []
    for s in listed:
        beds = live[s.id].beds if s.id in live else {}
        counts = ", ".join(f"{t} {b.available}/{b.total}" for t, b in sorted(beds.items()))
        fresh = terminal.ago(s.last_report_at)
        if s.last_report_at is None or _age_s(s.last_report_at) > settings.stale_after_s:
            fresh += " (stale)"
        table.append((s.id, s.name, s.region, counts, fresh, "yes" if s.confidential else ""))
    terminal.table(
        f"{len(table)} shelters (beds free/total)",
        ["id", "name", "region", "beds", "last report", "confidential"],
        table,
    )
    return 0


def _age_s(iso: str) -> float:
    then = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return (datetime.now(UTC) - then).total_seconds()


def cmd_token_create(args: argparse.Namespace, settings: Settings) -> int:
    regions = [r for group in (args.region or []) for r in _csv(group)]
    if args.role == "planner" and not args.agency:
        raise CliError("a planner token belongs to one agency: give --agency A")
    if args.role != "planner" and args.agency:
        raise CliError(f"--agency is for planner tokens, not {args.role} tokens")
    try:
        if args.agency is not None:
            msgspec.convert(args.agency, Agency)
        for region in regions:
            msgspec.convert(region, RegionCode)
    except msgspec.ValidationError:
        raise CliError(
            "--agency is 1-64 letters, digits, . _ or -; a --region is like OH or TX-N"
        ) from None
    _, token = asyncio.run(
        _with_conn(
            settings,
            lambda c: tokens.create_token(c, args.role, regions=regions, agency=args.agency),
        )
    )
    _print({"token": token})
    return 0


def cmd_audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    from exchange.placements import reads

    async def verify(conn: Any) -> audit.Verified:
        chain = await audit.verify(conn)
        if not chain.ok:
            return chain
        read = await reads.verify(conn)
        return chain if read.ok else msgspec.structs.replace(read, rows=chain.rows)

    result = asyncio.run(_with_conn(settings, verify))
    _print(result)
    if not result.ok:
        assert result.broken is not None
        sys.stderr.write(
            f"haven: audit log broken at row {result.broken.id}: {result.broken.problem}\n"
        )
        return 1
    return 0


def cmd_agency_webhook(args: argparse.Namespace, settings: Settings) -> int:
    from exchange.webhooks import registry

    if args.remove:
        done = asyncio.run(_with_conn(settings, lambda c: registry.remove(c, args.agency)))
        if not done:
            raise CliError(f"agency {args.agency} has no webhook; nothing was removed")
        _print({"agency": args.agency, "removed": True})
        return 0
    if not args.url:
        raise CliError("give the receiver's --url (or --remove)")
    registry.check(args.agency, args.url)
    made = asyncio.run(_with_conn(settings, lambda c: registry.register(c, args.agency, args.url)))
    _print(made)
    return 0


def cmd_agency_webhooks(args: argparse.Namespace, settings: Settings) -> int:
    from exchange.webhooks import store as webhooks

    _print(asyncio.run(_with_conn(settings, webhooks.webhooks)))
    return 0


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    from exchange.placements import purge

    async def run() -> purge.Purged | None:
        url = db.database_url(settings)
        await _migrate(url)
        pool = await db.create_pool(url, min_size=1, max_size=2)
        try:
            return await purge.purge(
                pool,
                days=settings.retention_days,
                stay_days=settings.stay_days,
                dry_run=args.dry_run,
            )
        finally:
            await pool.close()

    done = asyncio.run(run())
    if done is None:
        raise CliError("a purge or alert sweep is running in the exchange; try again shortly")
    _print(done)
    return 0


def cmd_token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    if not args.token and args.id is None:
        raise CliError("give the token to revoke (--token T or on stdin) or its --id")
    token = args.token
    if token == "-":
        token = sys.stdin.readline().strip()
    done = asyncio.run(
        _with_conn(settings, lambda c: tokens.revoke_token(c, token=token, token_id=args.id))
    )
    if not done:
        raise CliError("no live token matches; nothing was revoked")
    _print({"revoked": True})
    return 0


def cmd_token_list(args: argparse.Namespace, settings: Settings) -> int:
    tokens = asyncio.run(
        _with_conn(settings, lambda c: access_store.list_tokens(c, include_revoked=args.all))
    )
    if terminal.for_people(args):
        rows = [
            (
                t.id,
                t.role,
                t.shelter_id,
                ", ".join(t.regions) or "all",
                t.agency,
                t.created_at[:16],
                t.revoked_at[:16] if t.revoked_at else "",
            )
            for t in tokens
        ]
        cols = ["id", "role", "shelter", "regions", "agency", "created", "revoked"]
        terminal.table("Tokens (never the secrets)", cols, rows)
    else:
        _print(tokens)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="haven", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the exchange (HTTP + websockets)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=1, help="processes sharing the port")
    serve.set_defaults(func=cmd_serve)

    dbp = sub.add_parser("db", help="database maintenance").add_subparsers(dest="db", required=True)
    dbp.add_parser("migrate", help="apply pending migrations").set_defaults(func=cmd_db_migrate)

    shelter = sub.add_parser("shelter", help="the shelter registry").add_subparsers(
        dest="shelter", required=True
    )
    add = shelter.add_parser("add", help="register a shelter; prints its id and token")
    add.add_argument("--name", required=True)
    add.add_argument("--region", required=True)
    add.add_argument("--lat", type=float, required=True)
    add.add_argument("--lon", type=float, required=True)
    add.add_argument("--beds", required=True, help="e.g. single=12,family=3")
    add.add_argument("--confidential", action="store_true")
    add.add_argument("--max-children", type=int)
    add.add_argument("--mat-ok", action="store_true")
    add.add_argument("--min-age", type=int)
    add.add_argument("--max-age", type=int)
    add.add_argument("--excluded-offenses", help="comma-separated")
    add.add_argument("--languages", help="comma-separated, e.g. en,es")
    add.add_argument("--services", help="comma-separated, e.g. trafficking,sud")
    add.add_argument(
        "--address", help="street address: only the planner of an accepted placement sees it"
    )
    add.add_argument("--intake-phone", help="intake phone, released with the address")
    add.set_defaults(func=cmd_shelter_add)
    imp = shelter.add_parser(
        "import",
        help="register shelters from JSON lines, CSV, an HSDS directory or HMIS CSV",
        description="Register shelters, all or none. FILE is JSON lines or CSV; with "
        "--format hsds an HSDS 3.1 directory, zip or JSON file (211 data); with --format hud "
        "a folder or zip of HMIS CSV (Organization, Project, Inventory, ProjectCoC). For "
        "hsds and hud the summary names what was skipped and each default applied.",
    )
    imp.add_argument("file", metavar="FILE")
    imp.add_argument("--format", choices=["jsonl", "csv", "hsds", "hud"])
    imp.add_argument("--region", help="hsds/hud: put every shelter in this region")
    imp.add_argument("--date", help="hud: the day whose inventory counts (default today)")
    imp.add_argument(
        "--dry-run", action="store_true", help="hsds/hud: print what would be imported"
    )
    imp.add_argument("--json", action="store_true", help="JSON even on a terminal")
    imp.set_defaults(func=cmd_shelter_import)
    reset = shelter.add_parser(
        "reset-seq",
        help="set a shelter's last applied seq (after a wild seq); audited",
        description="Set a shelter's last applied report seq, so its agent can go on from "
        "there (for example after a buggy or stolen agent sent a huge seq). The change is "
        "written to the audit log. Beds do not change. Connected agents learn the new value "
        "in their next hello.",
    )
    reset.add_argument("--id", required=True, help="the shelter, e.g. s00001")
    reset.add_argument("--to", type=int, default=0, help="the new last seq (default 0)")
    reset.set_defaults(func=cmd_shelter_reset_seq)
    lst = shelter.add_parser("list", help="list shelters")
    lst.add_argument("--region", action="append")
    lst.add_argument("--json", action="store_true", help="JSON even on a terminal")
    lst.set_defaults(func=cmd_shelter_list)

    match_cli.add_parser(sub)
    interop.add_parser(sub)

    token = sub.add_parser("token", help="access tokens").add_subparsers(
        dest="token", required=True
    )
    create = token.add_parser("create", help="create a planner, viewer or admin token")
    create.add_argument("--role", required=True, choices=["planner", "viewer", "admin"])
    create.add_argument(
        "--region", action="append", help="confine to regions (repeat or comma-separate)"
    )
    create.add_argument("--agency", help="the planner's agency (planner tokens only, required)")
    create.set_defaults(func=cmd_token_create)
    revoke = token.add_parser("revoke", help="revoke a token; its connections close within seconds")
    revoke.add_argument("--token", help="the token, or - to read it from stdin")
    revoke.add_argument("--id", type=int)
    revoke.set_defaults(func=cmd_token_revoke)
    listing = token.add_parser("list", help="list tokens (ids, roles, regions; never secrets)")
    listing.add_argument("--all", action="store_true", help="include revoked tokens")
    listing.add_argument("--json", action="store_true", help="JSON even on a terminal")
    listing.set_defaults(func=cmd_token_list)

    agency = sub.add_parser("agency", help="planners' agencies").add_subparsers(
        dest="agency_command", required=True
    )
    hook = agency.add_parser(
        "webhook",
        help="send an agency's release-day alerts to a URL (signed; prints the secret once)",
        description="Set the URL that receives the agency's alerts: request ids and at-risk "
        "reasons, never a ref or a contact token, POSTed as JSON and signed with HMAC-SHA256 "
        "(X-Haven-Signature) under the secret printed now. Setting it again makes a new "
        "secret. Failed deliveries are retried with backoff.",
    )
    hook.add_argument("--agency", required=True)
    hook.add_argument("--url", help="the receiver, http(s)://…")
    hook.add_argument("--remove", action="store_true", help="stop sending; drop the queue")
    hook.set_defaults(func=cmd_agency_webhook)
    agency.add_parser(
        "webhooks", help="list agencies' webhooks and their queues (never the secrets)"
    ).set_defaults(func=cmd_agency_webhooks)

    purge_p = sub.add_parser(
        "purge",
        help="forget requests HAVEN_RETENTION_DAYS after they ended (the exchange does it too)",
        description="Delete every request that arrived, was withdrawn or was a no-show "
        "HAVEN_RETENTION_DAYS (30) or more days ago, one that arrived no sooner than "
        "HAVEN_STAY_DAYS (730) after she arrived (she may still live at the shelter, and "
        "her contacts keep others away): the request, its offers, pickup and "
        "alerts, its webhook deliveries, and its traces in stored matching runs. The audit "
        "log keeps ids and kinds; the regions' daily figures keep their counts. Prints the "
        "ids and counts (never a ref).",
    )
    purge_p.add_argument(
        "--dry-run", action="store_true", help="show what would go; change nothing"
    )
    purge_p.set_defaults(func=cmd_purge)

    auditp = sub.add_parser("audit", help="the audit log").add_subparsers(
        dest="audit", required=True
    )
    auditp.add_parser(
        "verify",
        help="walk the hash chain and check each board read's women against its record; "
        "names the first broken row (exit 1)",
    ).set_defaults(func=cmd_audit_verify)

    agent = sub.add_parser(
        "agent",
        help="push a shelter's bed counts (typed, or --file) and answer offers; "
        "token from --token or HAVEN_TOKEN",
    )
    agent.add_argument("--url", required=True, help="the exchange, e.g. http://127.0.0.1:8000")
    agent.add_argument("--token", help="shelter token; prefer HAVEN_TOKEN (not visible in ps)")
    agent.add_argument("--file", help="JSON lines of report bodies: send all, wait for acks, exit")
    agent.add_argument("--timeout", type=float, help="with --file: give up after this many seconds")
    agent.add_argument("--offers", action="store_true", help="print the open offers, then exit")
    agent.add_argument("--accept", metavar="OFFER", help="accept this offer, then exit")
    agent.add_argument("--decline", metavar="OFFER", help="decline this offer, then exit")
    agent.add_argument("--reason", help="with --decline: why, e.g. full (a word)")
    agent.set_defaults(func=cmd_agent)

    sim = sub.add_parser("simulate", help="simulated shelters and dashboards; prints a summary")
    sim.add_argument("--url", default="http://127.0.0.1:8000")
    sim.add_argument("--shelters", type=int, default=20)
    sim.add_argument("--rate", type=float, default=20.0, help="reports per second, all shelters")
    sim.add_argument("--duration", type=float, default=10.0, help="seconds")
    sim.add_argument("--dashboards", type=int, default=1)
    sim.add_argument(
        "--register",
        action="store_true",
        help="register the shelters and a viewer token in the configured database",
    )
    sim.add_argument("--tokens", help="shelter tokens: `haven shelter import` output (JSON)")
    sim.add_argument("--viewer-token", help="dashboard token (or HAVEN_VIEWER_TOKEN)")
    sim.add_argument("--seed", type=int, default=1)
    sim.set_defaults(func=cmd_simulate)

    demo = sub.add_parser("demo", help="seed a demo region, serve it, and simulate its shelters")
    demo.add_argument("--duration", type=float, help="run this many seconds, then print a summary")
    demo.add_argument("--port", type=int, help="default: a free port")
    demo.add_argument("--shelters", type=int, default=150)
    demo.add_argument("--rate", type=float, default=10.0, help="reports per second")
    demo.set_defaults(func=cmd_demo)

    return p


def cmd_agent(args: argparse.Namespace, settings: Settings) -> int:
    from clients import agent

    return agent.command(args, args.token or os.environ.get("HAVEN_TOKEN"))


def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from exchange.demo import simulation

    return simulation.command(args, settings)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from exchange.demo import run

    return run.command(args, settings)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        overrides = {k: getattr(args, k, None) for k in ("host", "port")}
        settings = from_env(**overrides)
        return int(args.func(args, settings))
    except HavenError as exc:
        sys.stderr.write(f"haven: {exc}\n")
        return 2
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        # Reached the database, then it refused (permissions, a broken migration): one line.
        sys.stderr.write(f"haven: database error: {type(exc).__name__}: {exc}\n")
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
