"""The benchmark: start the servers, run the surface rows, then the history, scale and
PostgreSQL sections, and report."""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

import before as old
import fsync_slow
import goals
from export_rss import measure_export
from harness import CONNECTIONS, say
from history import history_section
from plan import make_plan, parse_args
from postgres import postgres_rows
from postgres_db import PostgresUnavailable
from report import Row, before_ratios, environment, print_table, write_json
from scale import scale_section
from servers import (
    DB_FILE,
    Server,
    sqlite_env,
    start_bare,
    start_obliviate,
    start_serve,
)
from surfaces import SurfaceBench
from wrk_driver import INSTALL_HINT, WrkDriver


def _runner() -> asyncio.Runner:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


def start_before(
    tree: old.Worktree, workdir: Path, env_facts: dict[str, str]
) -> tuple[Server, Path]:
    """The old code's `serve --demo` on a fresh database in ``workdir/before``, once its
    environment is shown to import the worktree's obliviate; the server and its database."""
    folder = workdir / "before"
    folder.mkdir(parents=True, exist_ok=True)
    env = old.old_code_env(sqlite_env(folder), tree)
    found = old.check_import(env, folder, tree)
    say(f"before {tree.rev} ({tree.commit[:12]}): obliviate from {found}")
    env_facts.update(
        {
            "rev": tree.rev,
            "commit": tree.commit,
            "worktree": str(tree.path),
            "obliviate": str(found),
        }
    )
    return start_serve("obliviate-before", env, folder), folder / DB_FILE


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = make_plan(args)
    workdir = Path(tempfile.mkdtemp(prefix="obliviate-bench-"))
    servers: list[Server] = []
    extra: list[Row] = []
    tree: old.Worktree | None = None
    before_facts: dict[str, str] = {}
    try:
        if plan.before_rev is not None:
            say(f"checking out {plan.before_rev} into a git worktree ...")
            tree = old.add_worktree(plan.before_rev)
        say(f"temp dir {workdir}; starting servers ...")
        bare = start_bare(workdir)
        servers.append(bare)
        starlette = start_bare(workdir, "bare_starlette:app", "bare-starlette")
        servers.append(starlette)
        lean = start_bare(workdir, "bare_lean:app", "bare-lean")
        servers.append(lean)
        obliviate = start_obliviate(workdir)
        servers.append(obliviate)
        nogc = start_obliviate(
            workdir / "nogc", name="obliviate-nogc", extra_env={"OBLIVIATE_GROUP_COMMIT": "false"}
        )
        servers.append(nogc)
        wrk = WrkDriver.find(workdir)
        if wrk is None:
            say(INSTALL_HINT)
        shim = fsync_slow.build_shim(workdir)
        fsync = None if shim is None else fsync_slow.start_fsync_servers(workdir, shim)
        if fsync is not None:
            servers += fsync.both
        before_server, before_db = None, None
        if tree is not None:
            before_server, before_db = start_before(tree, workdir, before_facts)
            servers.append(before_server)
        for server in (bare, starlette, lean):
            server.wait_ready("/")
        for server in (obliviate, nogc, *([before_server] if before_server else [])):
            server.wait_ready("/healthz")
        for server in fsync.both if fsync is not None else ():
            server.wait_ready("/healthz")
        bench = SurfaceBench(
            plan,
            bare,
            obliviate,
            workdir / DB_FILE,
            starlette=starlette,
            lean=lean,
            no_group_commit=nogc,
            before=before_server,
            before_db=before_db,
            wrk=wrk,
            fsync=fsync,
        )
        with _runner() as runner:
            rows = runner.run(bench.run())
        for server in servers:
            if server.process.poll() is not None:
                raise RuntimeError(f"{server.name} died during the run:\n{server.log_tail()}")
        for server in reversed(servers):
            server.stop()
        servers.clear()
        if plan.history_people > 0:
            with _runner() as runner:
                extra += runner.run(history_section(plan, workdir, bench.facts))
        if plan.scale_large > 0:
            with _runner() as runner:
                extra += runner.run(scale_section(plan, workdir, bench.facts))
        if plan.export_events > 0:
            say(f"export: one person with {plan.export_events:,} events, streamed once ...")
            exported = measure_export(workdir / "export", plan.export_events, say=say)
            bench.facts.update(exported.facts())
            say(
                f"  {exported.events_per_s:,.0f} events/s, server peak RSS {exported.hwm_mb:.0f} MB"
            )
        if plan.postgres_url is not None:
            try:
                with _runner() as runner:
                    extra += runner.run(
                        postgres_rows(plan, plan.postgres_url, workdir, say, bench.facts)
                    )
            except PostgresUnavailable as exc:
                say(f"skipping the PostgreSQL section: {exc}")
    finally:
        for server in reversed(servers):
            server.stop()
        if tree is not None:
            tree.remove()
        if not args.keep_db:
            shutil.rmtree(workdir, ignore_errors=True)
    env = environment(
        connections=CONNECTIONS,
        duration=plan.duration,
        preload=bench.preloaded,
        preload_devices=bench.preloaded_devices,
        preload_insider=bench.preloaded_insider,
        before=before_facts or None,
        wrk=None if wrk is None else wrk.version,
        fsync_shim=fsync is not None,
    )
    rows = rows + extra
    results = goals.evaluate(rows, bench.facts, plan)
    print_table(env, rows)
    goals.print_goals(results)
    write_json(
        args.json,
        env,
        rows,
        facts=bench.facts,
        goals=[g.as_dict() for g in results],
        before=None if plan.before_rev is None else before_ratios(rows, plan.before_rev),
    )
    print(f"\nJSON written to {args.json}", file=sys.stderr)
    return 0 if all(row.valid for row in rows) else 1
