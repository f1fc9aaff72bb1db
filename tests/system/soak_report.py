"""The crash soak's figures as a markdown table, written into the README between two markers.

    OBLIVIATE_SOAK_FULL=1 OBLIVIATE_SOAK_REPORT=soak.json .venv/bin/python -m pytest \\
        tests/system/test_crash_soak.py
    .venv/bin/python -m tests.system.soak_report soak.json

Only the lines between ``<!-- soak:begin -->`` and ``<!-- soak:end -->`` change.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.system.soak_checks import CHECKS

BEGIN, END = "<!-- soak:begin -->", "<!-- soak:end -->"
README = Path(__file__).resolve().parents[2] / "README.md"
BACKENDS = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
KINDS = {
    "create": "creates (and re-creates after a hard delete)",
    "update": "attribute updates",
    "event": "event requests (1-10 events each)",
    "event_refused": "events for a soft-deleted person, refused (404) as they must be",
    "soft_delete": "soft deletes",
    "revive": "revivals of a soft-deleted person",
    "hard_delete": "hard deletes",
    "identifier_delete": "identifier deletes",
    "device_register": "device registrations and tag changes",
    "device_own": "devices given an owner",
    "device_delete": "device deletes",
    "batch": "batch deletions (2-4 people, soft or hard)",
}
JOB_KINDS = {
    "purge_profile": "profile purges",
    "purge_device": "device purges",
    "deletion_batch": "batches",
}

Result = dict[str, Any]


def _requests(result: Result) -> str:
    totals: Counter[str] = Counter()
    for outcomes in result["requests"].values():
        totals.update(outcomes)
    return f"{totals['ack']} / {totals['no']} / {totals['unknown']}"


def _kind(kind: str) -> Callable[[Result], str]:
    def cell(result: Result) -> str:
        outcomes = result["requests"].get(kind, {})
        unknown = outcomes.get("unknown", 0)
        return f"{outcomes.get('ack', 0)}" + (f" (+{unknown} unknown)" if unknown else "")

    return cell


def _jobs(result: Result) -> str:
    kinds: Counter[str] = Counter()
    states: Counter[str] = Counter()
    for key, n in result["jobs"].items():
        kind, _, state = key.partition(":")
        kinds[kind] += n
        states[state] += n
    parts = ", ".join(f"{kinds[k]} {name}" for k, name in JOB_KINDS.items() if kinds[k])
    ended = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
    return f"{sum(kinds.values())} ({parts}): {ended}"


def _checked(check: str) -> Callable[[Result], str]:
    return lambda result: f"{result['checks'][check]} assertions"


def _verdict(result: Result) -> str:
    if result["passed"]:
        return "**passed**"
    return f"**FAILED** ({result['violations']} violations)"


ROWS: list[tuple[str, Callable[[Result], str]]] = [
    ("form", lambda r: f"{r['form']}, seed {r['seed']}"),
    (
        "processes",
        lambda r: (
            f"{r['processes']['servers']} servers, {r['processes']['workers']} workers, "
            f"{r['processes']['clients']} clients"
        ),
    ),
    ("`kill -9` of a server", lambda r: str(r["kills"]["server"])),
    (
        "`kill -9` of a worker (caught mid-job)",
        lambda r: f"{r['kills']['worker']} ({r['kills']['worker_mid_job']})",
    ),
    ("operations", lambda r: str(r["operations"])),
    ("requests acknowledged / refused / outcome unknown", _requests),
    *((f"acknowledged: {name}", _kind(kind)) for kind, name in KINDS.items()),
    ("5xx answers", lambda r: str(r["server_errors"])),
    ("jobs", _jobs),
    *((f"check: {name}", _checked(name)) for name in CHECKS),
    ("verdict", _verdict),
    ("duration", lambda r: f"{r['duration_s']:.0f} s"),
    ("run on", lambda r: str(r["finished_at"])),
]


def render(results: dict[str, Result]) -> str:
    order = list(BACKENDS)
    backends = sorted(results, key=lambda b: (order.index(b) if b in order else len(order), b))
    lines = [
        "| | " + " | ".join(BACKENDS.get(b, b) for b in backends) + " |",
        "|---" * (len(backends) + 1) + "|",
    ]
    for label, cell in ROWS:
        lines.append(f"| {label} | " + " | ".join(cell(results[b]) for b in backends) + " |")
    return "\n".join(lines)


def replace_section(text: str, table: str) -> str:
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the README has no {BEGIN} ... {END} section")
    return text[: start + len(BEGIN)] + "\n" + table + "\n" + text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Put the crash soak's figures into the README.")
    parser.add_argument("results", nargs="?", default=os.environ.get("OBLIVIATE_SOAK_REPORT"))
    parser.add_argument("--readme", type=Path, default=README)
    args = parser.parse_args(argv)
    if not args.results:
        parser.error("name the results file (or set OBLIVIATE_SOAK_REPORT)")
    results: dict[str, Result] = json.loads(Path(args.results).read_text())
    table = render(results)
    readme: Path = args.readme
    readme.write_text(replace_section(readme.read_text(), table))
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
