"""The benchmark's goals, each checked against the rows and figures of the same run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from fsync_slow import FACT_KEYS, FSYNC_DELAY_MS, SOFT_DELETE, SOFT_DELETE_OFF, fsync_bound
from harness import CONNECTIONS, wrk_name
from insider_rows import BULK_USERS
from postgres import PG_BULK_ROW
from report import BEFORE_ROWS, Row, before_name

if TYPE_CHECKING:
    from plan import Plan


@dataclass(frozen=True)
class Goal:
    goal: str
    measured: str
    target: str
    met: bool | None  # None: not measured in this run

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _row(rows: list[Row], name: str) -> Row | None:
    return next((r for r in rows if r.scenario == name), None)


def _ratio_goal(goal: str, row: Row | None, minimum: float) -> Goal:
    if row is None or row.ratio is None:
        return Goal(goal, "not measured", f">= {minimum:.2f}", None)
    return Goal(
        goal, f"{row.ratio:.4f} of {row.baseline}", f">= {minimum:.2f}", row.ratio >= minimum
    )


def _figure_goal(
    goal: str,
    value: float | None,
    shown: str,
    target: str,
    met: Callable[[float], bool] | None = None,
) -> Goal:
    """A goal on one figure of the run: ``shown`` formats it, ``met`` judges it (None: the
    figure is only reported)."""
    if value is None:
        return Goal(goal, "not measured", target, None)
    return Goal(goal, shown.format(value), target, None if met is None else met(value))


# Goals 1 and 2: ratios to the bare ASGI row of the same driver.
SOFT_DELETE_MINIMUM = 0.50
GET_MINIMUM = 0.60
# Goal 2: the EngageLab and Insider single-record reads' ratios within 20% of Gainsight's.
SIBLING_SHARE = 0.80
SIBLINGS = ("engagelab device get", "insider profile")
# PostgreSQL: the soft delete and the GET at least this share of the storage ceiling.
PG_MINIMUM = 0.50
PG_JUDGED = ("pg gainsight get user", "pg gainsight soft delete")
# The export of one long history: the server's peak RSS (VmHWM) stays under this.
EXPORT_RSS_MB = 250
# Bulk: users/s of the 1,000-user Insider upsert rows, whatever the tenant's size.
BULK_GOALS = (
    (f"insider upsert {BULK_USERS} users", "SQLite", 20_000.0),
    (PG_BULK_ROW, "PostgreSQL", 10_000.0),
)
# The fsync +20 ms soft delete: at least this share of min(the group-size bound, unslowed).
FSYNC_SHARE = 0.5
# The group-commit-off server under the shim: one fsync per request caps it at 1 / delay;
# above that (with a margin for timing) the shim is not slowing the commits.
FSYNC_OFF_MARGIN = 1.1


def _drivers() -> list[tuple[Callable[[str], str], str]]:
    """(row name for a driver, goal suffix): the Python generator's rows, then wrk's."""
    return [(lambda name: name, ""), (wrk_name, ", wrk")]


def _sibling_goal(rows: list[Row], row_name: Callable[[str], str], label: str) -> Goal:
    goal = f"2. EngageLab/Insider single-record routes within 20% of Gainsight{label}"
    target = f">= {SIBLING_SHARE:.2f} x gainsight get user's ratio"
    base = _row(rows, row_name("gainsight get user"))
    others = [(name, _row(rows, row_name(name))) for name in SIBLINGS]
    if base is None or not base.ratio:
        return Goal(goal, "not measured", target, None)
    shares: list[tuple[str, float, float]] = []
    for name, row in others:
        if row is None or row.ratio is None:
            return Goal(goal, "not measured", target, None)
        shares.append((name, row.ratio, row.ratio / base.ratio))
    measured = ", ".join(f"{n} {r:.4f} ({s:.2f}x)" for n, r, s in shares)
    return Goal(
        goal,
        f"{measured}; gainsight get user {base.ratio:.4f}",
        target,
        all(s >= SIBLING_SHARE for _, _, s in shares),
    )


def _syncs_goal(goal: str, facts: dict[str, float], key: str) -> Goal:
    """The shim's count of fsync and fdatasync calls during one row (``<key>_*`` facts)."""
    synced = facts.get(f"{key}_fdatasyncs")
    if synced is None:
        return Goal(goal, "not measured", "reported", None)
    requests, fsyncs = facts[f"{key}_requests"], facts[f"{key}_fsyncs"]
    per = facts.get(f"{key}_requests_per_fdatasync")
    each = "" if per is None else f": {per:.1f} requests per fdatasync"
    return Goal(
        goal,
        f"{synced:,.0f} fdatasync + {fsyncs:,.0f} fsync for {requests:,.0f} requests{each}",
        "reported",
        None,
    )


def _fsync_goals(rows: list[Row], facts: dict[str, float]) -> list[Goal]:
    out = []
    bound, delay_s = fsync_bound(), FSYNC_DELAY_MS / 1000
    slow = f"5. fsync +{FSYNC_DELAY_MS} ms"
    for (row_name, label), key in zip(_drivers(), ("soft", "wrk"), strict=True):
        goal = f"{slow}: soft delete throughput{label}"
        slowed = _row(rows, row_name(SOFT_DELETE))
        unslowed = _row(rows, row_name("gainsight soft delete"))
        if slowed is None or unslowed is None:
            target = f">= {FSYNC_SHARE} x min({bound:,.0f}, unslowed soft delete)"
            out.append(Goal(goal, "not measured", target, None))
        else:
            floor = FSYNC_SHARE * min(bound, unslowed.rps)
            out.append(
                Goal(
                    goal,
                    f"{slowed.rps:,.0f} req/s: ~{slowed.rps * delay_s:.1f} requests per "
                    f"commit (x {delay_s:.3f} s); bound {CONNECTIONS} / {FSYNC_DELAY_MS} ms = "
                    f"{bound:,.0f} req/s",
                    f">= {FSYNC_SHARE} x min({bound:,.0f}, {unslowed.rps:,.0f} unslowed) = "
                    f"{floor:,.0f} req/s",
                    slowed.rps >= floor,
                )
            )
        out.append(_syncs_goal(f"{slow}: syncs during that row{label}", facts, FACT_KEYS[key]))
    off = _row(rows, SOFT_DELETE_OFF)
    cap = 1 / delay_s
    goal = f"{slow}, group commit off (the shim works)"
    target = f"<= 1 / {FSYNC_DELAY_MS} ms = {cap:.0f} req/s"
    if off is None:
        out.append(Goal(goal, "not measured", target, None))
    else:
        per = 1000 / off.rps if off.rps > 0 else float("inf")
        measured = f"{off.rps:.2f} req/s: {per:.0f} ms per request ({per / FSYNC_DELAY_MS:.1f} x"
        measured += f" {FSYNC_DELAY_MS} ms)"
        out.append(Goal(goal, measured, target, off.rps <= cap * FSYNC_OFF_MARGIN))
    out.append(_syncs_goal(f"{slow}: syncs during that row", facts, FACT_KEYS["off"]))
    return out


def evaluate(rows: list[Row], facts: dict[str, float], plan: Plan) -> list[Goal]:
    drivers = _drivers()
    out = [
        _ratio_goal(
            f"1. durable soft delete (group commit){label}",
            _row(rows, row_name("gainsight soft delete")),
            SOFT_DELETE_MINIMUM,
        )
        for row_name, label in drivers
    ]
    out += [
        _ratio_goal(f"2. GET user{label}", _row(rows, row_name("gainsight get user")), GET_MINIMUM)
        for row_name, label in drivers
    ]
    out += [_sibling_goal(rows, row_name, label) for row_name, label in drivers]
    after, before = (
        _row(rows, "gainsight soft delete"),
        _row(rows, "gainsight soft delete, group commit off"),
    )
    if after is not None and before is not None and before.rps > 0:
        out.append(
            Goal(
                "1. group commit on / off (same run)",
                f"{after.rps / before.rps:.2f}x ({after.rps:,.0f} / {before.rps:,.0f} req/s)",
                "> 1",
                after.rps > before.rps,
            )
        )
    per = f"{plan.events_per_person:,}"
    heavy = _row(rows, f"hard delete, person with {per} events")
    light = _row(rows, "hard delete, person with no events")
    if heavy is not None and light is not None and light.p99_ms > 0:
        ratio = heavy.p99_ms / light.p99_ms
        out.append(
            Goal(
                "3. hard delete p99, history / none",
                f"{ratio:.2f} ({heavy.p99_ms:.2f} / {light.p99_ms:.2f} ms)",
                "<= 1.50",
                ratio <= 1.5,
            )
        )
    else:
        out.append(Goal("3. hard delete p99, history / none", "not measured", "<= 1.50", None))
    out.append(
        _figure_goal(
            "3. purge + erasure of event rows, SQLite",
            facts.get("purge_rows_per_s"),
            "{:,.0f} rows/s",
            ">= 250,000 rows/s",
            lambda rate: rate >= 250_000,
        )
    )
    out.append(_erasure_goal("3. erasure passes in that purge, SQLite", facts, ""))
    out.append(
        _figure_goal(
            "3. purge + erasure of event rows, PostgreSQL (2 workers)",
            facts.get("pg_purge_rows_per_s"),
            "{:,.0f} rows/s",
            "reported",
        )
    )
    out.append(_erasure_goal("3. erasure passes in that purge, PostgreSQL", facts, "pg_"))
    for kind in ("get user", "soft delete"):
        large = next(
            (r for r in rows if r.scenario.startswith(f"scale {kind}") and r.ratio is not None),
            None,
        )
        out.append(
            _ratio_goal(
                f"4. {kind} at {plan.scale_large:,} profiles / {plan.scale_small:,}", large, 0.8
            )
        )
    out.append(
        _figure_goal(
            "4. server RSS during the scale run",
            facts.get("scale_rss_mb_peak"),
            "{:.0f} MB",
            "< 250 MB",
            lambda rss: rss < 250,
        )
    )
    out += _fsync_goals(rows, facts)
    for r in rows:
        if r.scenario.startswith("pg gainsight") and r.ratio is not None:
            judged = r.scenario in PG_JUDGED
            out.append(
                Goal(
                    f"5. {r.scenario}",
                    f"{r.rps:,.0f} req/s, {r.ratio:.2f} of {r.baseline}",
                    f">= {PG_MINIMUM:.2f}" if judged else "reported",
                    (r.ratio >= PG_MINIMUM and r.valid) if judged else None,
                )
            )
    out += [_bulk_goal(rows, name, label, minimum) for name, label, minimum in BULK_GOALS]
    exported = f"{plan.export_events:,}"
    out.append(
        _figure_goal(
            f"7. subject access export of {exported} events: server peak RSS",
            facts.get("export_rss_mb_peak"),
            "{:.0f} MB",
            f"< {EXPORT_RSS_MB} MB",
            lambda rss: rss < EXPORT_RSS_MB,
        )
    )
    out.append(
        _figure_goal(
            f"7. subject access export of {exported} events: rate",
            facts.get("export_events_per_s"),
            "{:,.0f} events/s",
            "reported",
        )
    )
    if plan.before_rev is not None:
        out += _before_goals(rows, plan.before_rev)
    return out


def _bulk_goal(rows: list[Row], name: str, label: str, minimum: float) -> Goal:
    row = _row(rows, name)
    users = None if row is None or not row.valid else row.users_per_s
    return _figure_goal(
        f"6. bulk upsert, {label}",
        users,
        "{:,.0f} users/s",
        f">= {minimum:,.0f} users/s",
        lambda rate: rate >= minimum,
    )


def _erasure_goal(goal: str, facts: dict[str, float], prefix: str) -> Goal:
    """The erasure passes' share of a purge + erasure figure (``<prefix>erasure_*`` facts)."""
    passes = facts.get(f"{prefix}erasure_passes")
    total = facts.get(f"{prefix}purge_seconds")
    if passes is None or total is None:
        return Goal(goal, "not measured", "reported", None)
    seconds = facts[f"{prefix}erasure_seconds"]
    share = f" ({seconds / total:.0%} of it)" if total > 0 else ""
    busy = int(facts[f"{prefix}erasure_busy_passes"])
    return Goal(
        goal,
        f"{int(passes)} passes, {seconds:.2f} s{share}; mean "
        f"{facts[f'{prefix}erasure_ms_mean']:.1f} ms, max {facts[f'{prefix}erasure_ms_max']:.1f} "
        f"ms" + (f"; {busy} busy, retried" if busy else ""),
        "reported",
        None,
    )


# Sealed storage (per-person keys): its GET may cost at most 15% of the old code's rate.
BEFORE_GET_MINIMUM = 0.85


def _before_goals(rows: list[Row], rev: str) -> list[Goal]:
    out = []
    for name in BEFORE_ROWS:
        now, then = _row(rows, name), _row(rows, before_name(name, rev))
        goal = f"sealed storage: {name.removeprefix('gainsight ')}, now / before {rev}"
        get = name == "gainsight get user"
        target = f">= {BEFORE_GET_MINIMUM:.2f}" if get else "reported"
        if now is None or then is None or then.rps == 0:
            out.append(Goal(goal, "not measured", target, None))
            continue
        ratio = now.rps / then.rps
        out.append(
            Goal(
                goal,
                f"{ratio:.3f} ({now.rps:,.0f} / {then.rps:,.0f} req/s)",
                target,
                ratio >= BEFORE_GET_MINIMUM if get else None,
            )
        )
    return out


def print_goals(goals: list[Goal]) -> None:
    headers = ["goal", "measured", "target", "met"]
    cells = [
        [g.goal, g.measured, g.target, "-" if g.met is None else ("yes" if g.met else "NO")]
        for g in goals
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    print()
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for c in cells:
        print("| " + " | ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)) + " |")
