"""The benchmark's own tools, tested like libraries: the parser of wrk's summary, and the
LD_PRELOAD shim that slows every fsync (built with the machine's gcc, loaded into a real
process)."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import fsync_slow  # noqa: E402
import wrk_driver  # noqa: E402

# wrk 4.1's own output (--latency), as it printed it on this project's machine.
WRK_SUMMARY = """Running 1s test @ http://127.0.0.1:8432/healthz
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   790.91us  748.57us   6.21ms   89.76%
    Req/Sec     6.04k     1.47k    9.25k    80.00%
  Latency Distribution
     50%  544.00us
     75%    0.87ms
     90%    1.56ms
     99%    4.20ms
  6014 requests in 1.00s, 1.08MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 17
Requests/sec:   5995.04
Transfer/sec:      1.07MB
"""


def test_wrk_summary_is_read_whole() -> None:
    result = wrk_driver.parse_output(WRK_SUMMARY)
    assert result.requests == 6014
    assert result.rps == pytest.approx(5995.04, rel=1e-6)
    assert result.percentile_ms(50) == pytest.approx(0.544)
    assert result.percentile_ms(99) == pytest.approx(4.2)
    assert result.non_2xx == 17
    assert result.socket_errors == {"connect": 0, "read": 2, "write": 0, "timeout": 1}
    assert result.errors == 3


def test_output_that_is_not_wrks_is_refused() -> None:
    with pytest.raises(RuntimeError, match="not understood"):
        wrk_driver.parse_output("wrk: command failed\n")


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc to build the shim")
def test_the_shim_delays_and_counts_every_fsync(tmp_path: Path) -> None:
    shim = fsync_slow.build_shim(tmp_path)
    assert shim is not None
    counts = tmp_path / "counts"
    script = (
        "import os, sys\n"
        "fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT)\n"
        "for _ in range(3): os.fsync(fd)\n"
        "os.fdatasync(fd)\n"
    )
    env = dict(os.environ, LD_PRELOAD=str(shim), FSYNC_DELAY_MS="50")
    env["FSYNC_DELAY_COUNTS"] = str(counts)
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "f")], env=env, check=True, timeout=60
    )
    elapsed = time.monotonic() - started
    fsyncs, fdatasyncs = struct.unpack("=QQ", counts.read_bytes()[:16])
    assert (fsyncs, fdatasyncs) >= (3, 1)
    # Four syncs, 50 ms each at least.
    assert elapsed >= 0.2
