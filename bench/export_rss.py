"""How fast a subject access export streams a long history, and what the server holds meanwhile.

Plants one person with a million events straight into a real server's SQLite file (bulk.py),
streams ``GET /api/v1/profiles/{uuid}/export`` from that `obliviate serve` process, and prints
events/s exported and the server's peak RSS (goal: under 250 MB, however long the history).

    python bench/export_rss.py [--events N] [--keep]
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bulk import add_events, add_people, profile_id_of, tenant_id
from obliviate.services.tenants import DEMO_CREDENTIALS
from servers import DB_FILE, HOST, sqlite_env, start_serve

GOAL_MB = 250
EVENT_MARK = b'"name":"bench_event"'
READ_BYTES = 1 << 16


def rss_mb(pid: int, field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (the peak so far) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for process {pid}")


class RssSampler(threading.Thread):
    """The highest RSS seen while the export streams (VmHWM also counts start-up)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.05):
            self.peak = max(self.peak, rss_mb(self.pid, "VmRSS"))


def stream_export(port: int, uuid: str) -> tuple[int, int, bytes]:
    """Read the export as it comes: (bytes, events counted, the last bytes)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=600)
    token = DEMO_CREDENTIALS["native"]["token"]
    conn.request(
        "GET", f"/api/v1/profiles/{uuid}/export", headers={"Authorization": f"Bearer {token}"}
    )
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"export answered {response.status}: {response.read()[:500]!r}")
    size = events = 0
    carry = b""
    while chunk := response.read(READ_BYTES):
        size += len(chunk)
        # The mark may straddle two reads: keep what could start one.
        window = carry + chunk
        events += window.count(EVENT_MARK)
        carry = window[-(len(EVENT_MARK) - 1) :]
    conn.close()
    return size, events, carry


@dataclass(frozen=True)
class ExportFigures:
    events: int
    seconds: float
    size: int
    rss_before_mb: float
    rss_peak_mb: float
    hwm_mb: float

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def facts(self) -> dict[str, float]:
        return {
            "export_events": self.events,
            "export_events_per_s": self.events_per_s,
            "export_rss_mb_peak": self.hwm_mb,
        }


def measure_export(workdir: Path, events: int, say: Callable[[str], None] = print) -> ExportFigures:
    """Plant one person with ``events`` events in a fresh `serve`'s database (in ``workdir``)
    and stream the export once; raises when it does not hold every event."""
    workdir.mkdir(parents=True, exist_ok=True)
    server = start_serve("export-serve", sqlite_env(workdir), workdir)
    try:
        server.wait_ready("/readyz")
        db = workdir / DB_FILE
        tenant = tenant_id(db)
        now = int(time.time() * 1000)
        planted = time.perf_counter()
        (uuid,) = add_people(db, tenant, prefix="export", first_id=1, count=1, now_ms=now)
        pid = profile_id_of(db, tenant, uuid)
        add_events(
            db, tenant, profile_ids=iter([pid]), per_profile=events, first_event_id=1, now_ms=now
        )
        say(f"planted {events:,} events in {time.perf_counter() - planted:.1f} s")

        before = rss_mb(server.process.pid, "VmRSS")
        sampler = RssSampler(server.process.pid)
        sampler.start()
        started = time.perf_counter()
        size, counted, tail = stream_export(server.port, uuid)
        elapsed = time.perf_counter() - started
        sampler.done.set()
        sampler.join()
        if counted != events or not tail.endswith(b"]}"):
            raise RuntimeError(f"export held {counted} events of {events} (tail {tail!r})")
        peak = max(sampler.peak, rss_mb(server.process.pid, "VmRSS"))
        return ExportFigures(
            events, elapsed, size, before, peak, rss_mb(server.process.pid, "VmHWM")
        )
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="obliviate-export-rss-"))
    try:
        f = measure_export(workdir, args.events)
        verdict = "ok" if f.hwm_mb < GOAL_MB else "OVER GOAL"
        print(f"exported {f.events:,} events ({f.size / 1e6:.0f} MB of JSON) in {f.seconds:.1f} s")
        print(f"events/s exported: {f.events_per_s:,.0f}")
        print(
            f"server RSS: {f.rss_before_mb:.0f} MB before, {f.rss_peak_mb:.0f} MB peak while "
            "streaming"
        )
        print(f"server peak RSS (VmHWM): {f.hwm_mb:.0f} MB (goal < {GOAL_MB} MB: {verdict})")
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
