"""The ``JobCounts`` port: how many jobs are in each state, and how long the queue is."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from obliviate.domain.deletion import JobState
from obliviate.services.queue_port import JobCensus
from obliviate.storage import tables as t
from obliviate.storage.engine import read_connection

# Both answered from ix_jobs_claim (state, run_after) alone: a scrape stays cheap however
# many finished jobs the table keeps.
_BY_STATE = select(t.jobs.c.state, func.count()).group_by(t.jobs.c.state)
_OLDEST_DUE = select(func.min(t.jobs.c.run_after)).where(t.jobs.c.state == JobState.QUEUED.value)


class SqlJobCensus:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def census(self) -> JobCensus:
        """By state, and the oldest ``run_after`` of a queued job: how long the queue is
        behind (a job put off until later is not behind until its time comes)."""
        by_state = dict.fromkeys((s.value for s in JobState), 0)
        with read_connection(self._engine) as conn, conn.begin():
            for state, count in conn.execute(_BY_STATE):
                by_state[str(state)] = int(count)
            oldest = conn.execute(_OLDEST_DUE).scalar()
        return JobCensus(by_state, None if oldest is None else int(oldest))
