"""The benchmark's goals, each checked against the rows and figures of the same run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

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


def evaluate(rows: list[Row], facts: dict[str, float], plan: Plan) -> list[Goal]:
    out = [
        _ratio_goal(
            "1. durable soft delete (group commit)", _row(rows, "gainsight soft delete"), 0.5
        ),
        _ratio_goal("2. GET user", _row(rows, "gainsight get user"), 0.7),
    ]
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
    for r in rows:
        if r.scenario.startswith("pg gainsight") and r.ratio is not None:
            out.append(
                Goal(
                    f"5. {r.scenario}",
                    f"{r.rps:,.0f} req/s, {r.ratio:.2f} of {r.baseline}",
                    "reported",
                    None,
                )
            )
    if plan.before_rev is not None:
        out += _before_goals(rows, plan.before_rev)
    return out


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
