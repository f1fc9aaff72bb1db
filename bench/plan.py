"""What one run measures: the command line of bench/run, read into a Plan."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from postgres_db import DEFAULT_URL

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"


@dataclass(frozen=True)
class Plan:
    duration: float
    warmup: float
    preload: int | None  # ids per delete scenario; None = sized from the create rate
    seed: int
    # Goal 3: people with a long history (and as many with none) hard-deleted.
    history_people: int = 50
    events_per_person: int = 100_000
    # Goal 4: profiles stored for the small and the large stage, events per profile
    # (0 profiles: the section is skipped).
    scale_small: int = 10_000
    scale_large: int = 1_000_000
    scale_events_per_profile: int = 20
    # Goal 5 (None: skipped).
    postgres_url: str | None = None
    # Events of the one person the export section streams (0: skipped).
    export_events: int = 1_000_000
    # --before: the git revision whose code the "(before REV)" rows run (None: no such rows).
    before_rev: str | None = None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run",
        description=(
            "Throughput and latency of Obliviate's Gainsight, EngageLab and Insider surfaces "
            "against bare ASGI, deletion cost against history, scale, and PostgreSQL."
        ),
    )
    parser.add_argument("--duration", type=float, default=None, help="seconds per scenario (10)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 s per scenario, smaller preloads and history; no scale or PostgreSQL section",
    )
    parser.add_argument(
        "--preload",
        type=int,
        default=None,
        help=(
            "users (or devices) preloaded for EACH delete scenario "
            "(default: sized from the create rate)"
        ),
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep-db", action="store_true", help="keep the temp directory")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"JSON output ({RESULTS})")
    parser.add_argument(
        "--scale",
        type=int,
        default=None,
        help="profiles in the large scale stage (1,000,000; 0 skips the section)",
    )
    parser.add_argument(
        "--postgres-url",
        default=None,
        help=f"PostgreSQL for the PostgreSQL section (default {DEFAULT_URL})",
    )
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL section")
    parser.add_argument(
        "--export-events",
        type=int,
        default=None,
        help="events of the person the export section streams (1,000,000; --quick 100,000)",
    )
    parser.add_argument(
        "--before",
        metavar="REV",
        default=None,
        help=(
            "also run the Gainsight get, soft and hard delete rows on a server running git "
            "revision REV (a temporary worktree), in the same run"
        ),
    )
    return parser.parse_args(argv)


def make_plan(args: argparse.Namespace) -> Plan:
    duration = args.duration if args.duration is not None else (1.0 if args.quick else 10.0)
    if duration <= 0:
        raise SystemExit("--duration must be positive")
    if args.preload is not None and args.preload < 1:
        raise SystemExit("--preload must be at least 1")
    scale = args.scale if args.scale is not None else (0 if args.quick else 1_000_000)
    postgres = None if args.quick or args.no_postgres else (args.postgres_url or DEFAULT_URL)
    export_events = args.export_events
    if export_events is None:
        export_events = 100_000 if args.quick else 1_000_000
    return Plan(
        duration=duration,
        warmup=min(1.0, duration / 4),
        preload=args.preload,
        seed=args.seed,
        history_people=5 if args.quick else 50,
        scale_large=scale,
        postgres_url=postgres,
        export_events=export_events,
        before_rev=args.before,
    )
