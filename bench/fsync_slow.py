"""Soft deletes on a slow disk: servers whose every fsync and fdatasync first sleeps
FSYNC_DELAY_MS (an LD_PRELOAD shim, fsync_delay.c, compiled at run time into the run's temp
dir), one with group commit on and one with it off.

With group commit, the requests waiting while one COMMIT is on the disk share the next, so
the rate should fall no more than the group size explains: at most CONNECTIONS requests per
FSYNC_DELAY_MS (64 / 20 ms = 3,200 req/s). Without it, one fsync per request caps the server
at 1 / FSYNC_DELAY_MS (50 req/s), which shows the shim works.
"""

from __future__ import annotations

import os
import random
import shutil
import struct
import subprocess
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path

from gainsight_requests import user_create, user_soft_delete
from harness import CONNECTIONS, WRK_PRELOAD_FACTOR, Harness, say
from report import Row
from servers import BENCH_DIR, HOST, Server, start_obliviate
from sources import once_each

FSYNC_DELAY_MS = 20
SHIM_SOURCE = BENCH_DIR / "fsync_delay.c"
SHIM_NOTE = (
    f"a server of its own whose fsync and fdatasync first sleep {FSYNC_DELAY_MS} ms "
    f"(LD_PRELOAD of bench/fsync_delay.c, FSYNC_DELAY_MS={FSYNC_DELAY_MS}), group commit on"
)
SOFT_DELETE = "gainsight soft delete, fsync +20 ms"
SOFT_DELETE_OFF = "gainsight soft delete, group commit off, fsync +20 ms"
# The shim counts its calls into this file of each server's folder (FSYNC_DELAY_COUNTS).
COUNTS_FILE = "fsync-counts"
# Facts: per row key, the calls made during that row and its requests per fdatasync.
# The group-commit-off server's first preload batch: two per connection (a few seconds).
OFF_FIRST_BATCH = 2 * CONNECTIONS
FACT_KEYS = {"soft": "fsync_soft_delete", "wrk": "fsync_soft_delete_wrk", "off": "fsync_off"}


def fsync_bound(connections: int = CONNECTIONS) -> float:
    """The most requests per second ``connections`` can complete if each waits for one
    fsync of FSYNC_DELAY_MS: all of them in every commit."""
    return connections * 1000 / FSYNC_DELAY_MS


def build_shim(workdir: Path) -> Path | None:
    """``fsync_delay.so`` in ``workdir``; None (and a note on stderr) if it cannot be built."""
    target = workdir / "fsync_delay.so"
    gcc = shutil.which("gcc")
    skip = "skipping the fsync +20 ms rows"
    if gcc is None:
        say(f"{skip}: gcc not found")
        return None
    args = [gcc, "-shared", "-fPIC", "-O2", "-o", str(target), str(SHIM_SOURCE), "-ldl"]
    try:
        subprocess.run(args, capture_output=True, text=True, check=True, timeout=120)
    except subprocess.CalledProcessError as exc:
        say(f"{skip}: compiling {SHIM_SOURCE.name} failed:\n{exc.stderr.strip()}")
        return None
    except (OSError, subprocess.TimeoutExpired) as exc:
        say(f"{skip}: compiling {SHIM_SOURCE.name} failed: {exc}")
        return None
    return target


def shim_env(shim: Path, counts: Path) -> dict[str, str]:
    preload = os.environ.get("LD_PRELOAD")
    return {
        "LD_PRELOAD": f"{shim}:{preload}" if preload else str(shim),
        "FSYNC_DELAY_MS": str(FSYNC_DELAY_MS),
        "FSYNC_DELAY_COUNTS": str(counts),
    }


def read_counts(path: Path) -> tuple[int, int]:
    """(fsync, fdatasync) calls the shim has counted in ``path`` so far."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return 0, 0
    if len(data) < 16:
        return 0, 0
    fsyncs, fdatasyncs = struct.unpack("=QQ", data[:16])
    return int(fsyncs), int(fdatasyncs)


@dataclass(frozen=True)
class FsyncServers:
    on: Server  # group commit on
    off: Server  # OBLIVIATE_GROUP_COMMIT=false
    on_counts: Path
    off_counts: Path

    @property
    def both(self) -> tuple[Server, Server]:
        return self.on, self.off


def start_fsync_servers(workdir: Path, shim: Path) -> FsyncServers:
    """Two more `serve --demo` (the main server's environment, each on a fresh SQLite
    database) with the shim preloaded."""
    on_dir, off_dir = workdir / "fsync", workdir / "fsync-nogc"
    on_counts, off_counts = on_dir / COUNTS_FILE, off_dir / COUNTS_FILE
    on = start_obliviate(on_dir, name="obliviate-fsync", extra_env=shim_env(shim, on_counts))
    off = start_obliviate(
        off_dir,
        name="obliviate-fsync-nogc",
        extra_env=shim_env(shim, off_counts) | {"OBLIVIATE_GROUP_COMMIT": "false"},
    )
    return FsyncServers(on, off, on_counts, off_counts)


@dataclass(frozen=True)
class FsyncRequests:
    soft: list[bytes]
    wrk_soft: list[bytes]  # empty without wrk
    off_soft: list[bytes]


async def prepare(bench: Harness, servers: FsyncServers, rng: random.Random) -> FsyncRequests:
    """Preload the users both servers' soft deletes consume, each pool sized from the create
    rate as the main server's. The group-commit-off server creates at most 1 / FSYNC_DELAY_MS
    users per second: a small first batch, and no --preload there (it could take long)."""
    on_host, off_host = f"{HOST}:{servers.on.port}", f"{HOST}:{servers.off.port}"

    def create_on(i: str) -> bytes:
        return user_create(on_host, i)

    what = "users (fsync +20 ms)"
    (soft_ids,) = await bench.fill_pools(what, ["bench-fsync-soft"], create_on, server=servers.on)
    wrk_ids: list[str] = []
    if bench.wrk is not None:
        (wrk_ids,) = await bench.fill_pools(
            "users (fsync +20 ms, wrk)",
            ["bench-fsync-wrk"],
            create_on,
            server=servers.on,
            factor=WRK_PRELOAD_FACTOR,
        )
    (off_ids,) = await bench.fill_pools(
        "users (group commit off, fsync +20 ms)",
        ["bench-fsync-nogc"],
        lambda i: user_create(off_host, i),
        server=servers.off,
        first_batch=OFF_FIRST_BATCH,
    )
    for ids in (soft_ids, wrk_ids, off_ids):
        rng.shuffle(ids)
    return FsyncRequests(
        soft=[user_soft_delete(on_host, i) for i in soft_ids],
        wrk_soft=[user_soft_delete(on_host, i) for i in wrk_ids],
        off_soft=[user_soft_delete(off_host, i) for i in off_ids],
    )


async def counted(bench: Harness, key: str, counts: Path, measuring: Awaitable[Row | None]) -> None:
    """Run one row and keep, as facts, the fsync and fdatasync calls its server made
    meanwhile and the row's requests per fdatasync (about the requests per commit)."""
    fsyncs, fdatasyncs = read_counts(counts)
    row = await measuring
    after = read_counts(counts)
    if row is None:
        return
    fact = FACT_KEYS[key]
    bench.facts[f"{fact}_fsyncs"] = after[0] - fsyncs
    bench.facts[f"{fact}_fdatasyncs"] = synced = after[1] - fdatasyncs
    bench.facts[f"{fact}_requests"] = row.requests
    if synced > 0:
        bench.facts[f"{fact}_requests_per_fdatasync"] = row.requests / synced


async def measure(bench: Harness, servers: FsyncServers, requests: FsyncRequests) -> None:
    soft_delete, post = "DELETE /v1/users/{id}", "bare ASGI POST"
    on, off = servers.on, servers.off
    soft = bench.measure(
        SOFT_DELETE, soft_delete, post, on, once_each(requests.soft), note=SHIM_NOTE
    )
    await counted(bench, "soft", servers.on_counts, soft)
    if requests.wrk_soft:
        wrk = bench.measure_wrk(SOFT_DELETE, soft_delete, post, on, requests.wrk_soft, once=True)
        await counted(bench, "wrk", servers.on_counts, wrk)
    without = bench.measure(
        SOFT_DELETE_OFF,
        soft_delete,
        post,
        off,
        once_each(requests.off_soft),
        note=(
            "the same shim on a server with OBLIVIATE_GROUP_COMMIT=false: one commit, so at "
            f"least one {FSYNC_DELAY_MS} ms fsync, per request: at most "
            f"{1000 / FSYNC_DELAY_MS:.0f} req/s (shows the shim works)"
        ),
    )
    await counted(bench, "off", servers.off_counts, without)
