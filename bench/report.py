"""The results table (stdout) and its JSON twin."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import orjson

from servers import BENCH_DIR, STACK

PACKAGES = ("obliviate", "uvicorn", "starlette", "sqlalchemy", "uvloop", "httptools")
# The rows --before REV also runs on the old code, each as "<row> (before REV)".
BEFORE_ROWS = ("gainsight get user", "gainsight soft delete", "gainsight hard delete")


def before_name(scenario: str, rev: str | None) -> str:
    return f"{scenario} (before {rev})"


def before_ratios(rows: list[Row], rev: str) -> dict[str, float]:
    """Current row -> its requests/s over its "(before REV)" row's, for the rows both have."""
    by_name = {r.scenario: r for r in rows}
    out: dict[str, float] = {}
    for name in BEFORE_ROWS:
        now, then = by_name.get(name), by_name.get(before_name(name, rev))
        if now is not None and then is not None and then.rps > 0:
            out[name] = now.rps / then.rps
    return out


class Measured(Protocol):
    """One scenario's figures, from either load driver (loadgen.LoadResult, or
    wrk_driver.WrkResult)."""

    @property
    def requests(self) -> int: ...
    @property
    def non_2xx(self) -> int: ...
    @property
    def errors(self) -> int: ...
    @property
    def elapsed(self) -> float: ...
    @property
    def exhausted(self) -> bool: ...
    @property
    def rps(self) -> float: ...
    def percentile_ms(self, pct: float) -> float: ...
    def status_summary(self) -> dict[str, int]: ...


@dataclass(frozen=True)
class Row:
    scenario: str
    request: str
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    connection_errors: int
    requests: int
    duration_s: float
    planned_s: float
    ran_out_of_ids: bool
    baseline: str | None
    ratio: float | None
    status_counts: dict[str, int]
    connections: int
    # Rows that carry users (Insider upsert): users per request and, from the response
    # bodies, how many users went in and how many came back in "fail".
    users_per_request: int | None
    users_ok: int | None
    users_failed: int
    # 2xx responses whose body was not the expected one.
    bad_bodies: int
    bad_body_sample: str | None
    note: str | None

    @classmethod
    def from_result(
        cls,
        scenario: str,
        request: str,
        result: Measured,
        planned: float,
        base: Row | None,
        *,
        connections: int,
        check: BodyCheck | None = None,
        note: str | None = None,
    ) -> Row:
        rps = result.rps
        return cls(
            scenario=scenario,
            request=request,
            rps=rps,
            p50_ms=result.percentile_ms(50),
            p99_ms=result.percentile_ms(99),
            non_2xx=result.non_2xx,
            connection_errors=result.errors,
            requests=result.requests,
            duration_s=result.elapsed,
            planned_s=planned,
            ran_out_of_ids=result.exhausted,
            baseline=None if base is None else base.scenario,
            ratio=None if base is None or base.rps == 0 else rps / base.rps,
            status_counts=result.status_summary(),
            connections=connections,
            users_per_request=None if check is None else check.users_per_request,
            users_ok=None if check is None or check.users_per_request is None else check.users_ok,
            users_failed=0 if check is None else check.users_failed,
            bad_bodies=0 if check is None else check.bad,
            bad_body_sample=None if check is None else check.bad_sample,
            note=note,
        )

    @property
    def users_per_s(self) -> float | None:
        if self.users_ok is None:
            return None
        return self.users_ok / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def valid(self) -> bool:
        return (
            self.non_2xx == 0
            and self.connection_errors == 0
            and self.requests > 0
            and self.bad_bodies == 0
            and self.users_failed == 0
        )

    def progress_line(self) -> str:
        users = "" if self.users_per_s is None else f", {self.users_per_s:.0f} users/s"
        return (
            f"{self.scenario}: {self.rps:.2f} req/s{users}, p50 {self.p50_ms:.2f} ms, "
            f"p99 {self.p99_ms:.2f} ms, {self.requests} requests in {self.duration_s:.2f} s "
            f"on {self.connections} connections, statuses {self.status_counts}"
        )


@dataclass
class BodyCheck:
    """What a row's response hook found in the 2xx bodies.

    ``users_per_request`` is set for rows whose requests carry users (Insider upsert); their
    hook adds up ``data.successful.count`` and ``data.fail.count`` of each answer.
    """

    users_per_request: int | None = None
    users_ok: int = 0
    users_failed: int = 0
    bad: int = 0
    bad_sample: str | None = None

    def bad_body(self, body: bytes) -> None:
        self.bad += 1
        if self.bad_sample is None:
            self.bad_sample = body[:200].decode(errors="replace")


def _git_revision() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=BENCH_DIR.parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=BENCH_DIR.parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" (src modified)" if dirty else "")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment(
    *,
    connections: int,
    duration: float,
    preload: int,
    preload_devices: int,
    preload_insider: dict[str, int],
    before: dict[str, str] | None = None,
    wrk: str | None = None,
    fsync_shim: bool = False,
) -> dict[str, Any]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "git": _git_revision(),
        "versions": versions,
        "server_stack": STACK,
        "database": (
            "SQLite (fresh temp file, WAL, synchronous=FULL), in-process worker on, "
            "OBLIVIATE_ERASURE_DELAY=0"
        ),
        "client": (
            f"Python asyncio streams on uvloop, {connections} keep-alive HTTP/1.1 connections, "
            "requests back to back, on the same machine as the servers"
        ),
        "client_wrk": (
            "not installed (apt-get install -y wrk): no (wrk) rows"
            if wrk is None
            else f"{wrk}: -t1 -c{connections} --latency, a generated Lua script, for the (wrk) rows"
        ),
        "fsync_shim": (
            "LD_PRELOAD bench/fsync_delay.c, FSYNC_DELAY_MS=20, for the fsync +20 ms rows"
            if fsync_shim
            else "not built: no fsync +20 ms rows"
        ),
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "connections": connections,
        "duration_s": duration,
        "preloaded_users_per_delete_scenario": preload,
        "preloaded_devices_for_delete_scenario": preload_devices,
        "preloaded_insider_users": preload_insider,
        "argv": sys.argv,
    } | ({} if before is None else {"before": before})


def _fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "-"
    return f"{ratio:.4f}" if ratio >= 0.001 else f"{ratio:.2e}"


def _fmt_rate(rate: float) -> str:
    return f"{rate:,.0f}" if rate >= 100 else f"{rate:.2f}"


def print_table(env: dict[str, Any], rows: list[Row]) -> None:
    v = env["versions"]
    print(
        f"Obliviate benchmark  {env['date']}  git {env['git']}\n"
        f"server : {env['server_stack']}\n"
        f"versions: python {v['python']}, obliviate {v['obliviate']}, uvicorn {v['uvicorn']}, "
        f"starlette {v['starlette']}, sqlalchemy {v['sqlalchemy']}, uvloop {v['uvloop']}, "
        f"httptools {v['httptools']}\n"
        f"db     : {env['database']}\n"
        f"client : {env['client']}\n"
        f"wrk    : {env['client_wrk']}\n"
        f"fsync  : {env['fsync_shim']}\n"
        f"cpu    : {env['cpus']} x {env['cpu_model']}; the load generator shares these cores\n"
        f"         with the server, so absolute rates are below what the server alone could do;\n"
        f"         the bare-ASGI rows are measured the same way in the same run, so the ratio\n"
        f"         column is the comparable figure\n"
        f"run    : {env['duration_s']:g} s per scenario; ratio = requests/s over the row named "
        f"under 'to' (bare ASGI GET or POST for the surface rows);\n"
        f"         users/s = users accepted per second (Insider upsert rows, from the answers)"
    )
    before = env.get("before")
    compared: dict[str, float] = {}
    if before is not None:
        compared = before_ratios(rows, before["rev"])
        print(
            f"before : {before['rev']} = {before['commit'][:12]}, in a temporary git worktree; "
            f"its server runs the same interpreter\n"
            f"         with PYTHONPATH=<worktree>/src (obliviate from {before['obliviate']});\n"
            f"         now/before = requests/s of the row over its '(before "
            f"{before['rev']})' row"
        )
    print()
    headers = ["scenario", "requests/s", "users/s", "p50 ms", "p99 ms", "non-2xx", "ratio", "to"]
    if before is not None:
        headers.insert(-1, "now/before")
    cells = []
    for r in rows:
        cell = [
            r.scenario + ("" if r.valid else " (INVALID)"),
            _fmt_rate(r.rps),
            "-" if r.users_per_s is None else _fmt_rate(r.users_per_s),
            f"{r.p50_ms:.2f}",
            f"{r.p99_ms:.2f}",
            str(r.non_2xx),
            _fmt_ratio(r.ratio),
            "-" if r.baseline is None else r.baseline,
        ]
        if before is not None:
            cell.insert(-1, f"{compared[r.scenario]:.3f}" if r.scenario in compared else "-")
        cells.append(cell)
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]

    def line(values: list[str]) -> str:
        first = values[0].ljust(widths[0])
        rest = [val.rjust(w) for val, w in zip(values[1:-1], widths[1:-1], strict=True)]
        return "| " + " | ".join([first, *rest, values[-1].ljust(widths[-1])]) + " |"

    print(line(headers))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for c in cells:
        print(line(c))
    notes = []
    for r in rows:
        if r.note:
            notes.append(f"* {r.scenario}: {r.note}")
        if r.ran_out_of_ids:
            notes.append(
                f"* {r.scenario}: preloaded ids ran out after {r.duration_s:.2f} s "
                f"(of {r.planned_s:g} s); rate is over the actual duration"
            )
        if r.connection_errors:
            notes.append(f"* {r.scenario}: {r.connection_errors} connection errors")
        if r.non_2xx:
            notes.append(f"* {r.scenario}: statuses {r.status_counts}")
        if r.users_failed:
            notes.append(
                f'* {r.scenario}: {r.users_failed} users came back under "fail" in 200 answers'
            )
        if r.bad_bodies:
            notes.append(
                f"* {r.scenario}: {r.bad_bodies} 2xx answers with an unexpected body, "
                f"e.g. {r.bad_body_sample!r}"
            )
    if notes:
        print()
        print("\n".join(notes))


def write_json(
    path: Path,
    env: dict[str, Any],
    rows: list[Row],
    *,
    facts: dict[str, float] | None = None,
    goals: list[dict[str, Any]] | None = None,
    before: dict[str, float] | None = None,
) -> None:
    """``before`` (--before only): each current row's requests/s over its old code's row."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {
        "environment": env,
        "rows": [asdict(r) | {"valid": r.valid} for r in rows],
        "facts": facts or {},
        "goals": goals or [],
    }
    if before is not None:
        data["now_over_before"] = before
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
