"""The mass-deletion guard's rule in domain/guard.py: a window of whole minutes that slides, and a
population that fillers made inside the window do not raise."""

from __future__ import annotations

from obliviate.domain.guard import (
    MINUTE_MS,
    GuardWindow,
    deletion_allowance,
    population_at_window_start,
)

TEN_59 = 1_900_000_000_000 - 1_900_000_000_000 % 3_600_000 + 59 * MINUTE_MS


def test_the_window_is_the_current_minute_and_the_59_before_it() -> None:
    window = GuardWindow.at(TEN_59 + 30_000)
    assert window.minute == TEN_59
    assert window.start == TEN_59 - 59 * MINUTE_MS
    # A deletion made at 10:59 still counts at 11:58:59.999 and no longer at 11:59.
    assert GuardWindow.at(TEN_59 + 60 * MINUTE_MS - 1).start <= TEN_59
    assert GuardWindow.at(TEN_59 + 60 * MINUTE_MS).start > TEN_59


def test_the_population_counts_what_was_there_and_what_was_deleted_since() -> None:
    assert population_at_window_start(live_created_before=90, deleted_in_window=10) == 100
    # 1,000 fillers created inside the window are not in ``live_created_before``.
    allowed = deletion_allowance(
        population=population_at_window_start(live_created_before=100, deleted_in_window=0),
        share=0.1,
        floor=3,
    )
    assert allowed == 10
