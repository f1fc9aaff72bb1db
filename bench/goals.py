"""Issue 6's goals, each checked against the rows and figures of the same run."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from report import Row

if TYPE_CHECKING:
    from scenarios import Plan


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
    rate = facts.get("purge_rows_per_s")
    out.append(
        Goal(
            "3. purge of event rows, SQLite",
            "not measured" if rate is None else f"{rate:,.0f} rows/s",
            ">= 250,000 rows/s",
            None if rate is None else rate >= 250_000,
        )
    )
    pg_rate = facts.get("pg_purge_rows_per_s")
    out.append(
        Goal(
            "3. purge of event rows, PostgreSQL (2 workers)",
            "not measured" if pg_rate is None else f"{pg_rate:,.0f} rows/s",
            "reported",
            None,
        )
    )
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
    rss = facts.get("scale_rss_mb_peak")
    out.append(
        Goal(
            "4. server RSS during the scale run",
            "not measured" if rss is None else f"{rss:.0f} MB",
            "< 250 MB",
            None if rss is None else rss < 250,
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
    return out


def print_goals(goals: list[Goal]) -> None:
    headers = ["goal (issue 6)", "measured", "target", "met"]
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
