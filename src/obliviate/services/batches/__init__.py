"""Batch deletions (native API): up to 1,000 subjects, soft or hard, with suppression.

A batch is a job. Its subjects are canonical identifier values; when the batch is accepted they
are resolved to profiles for the guard, and the values are kept (in the job row, until it ends)
so that the worker resolves them again when it runs: a person merged into another profile, or
holding the email only as a Gainsight ``email`` attribute, is found all the same. The worker
deletes them: soft deletes in place, hard deletes through one purge job per profile (each writing
its receipt). The batch ends ``completed`` only after a check, by value and by the profiles it
deleted, that nothing of any subject is readable or left in any deletion target; a subject still
found by value is deleted again (a bounded number of rounds), else the batch is ``partial``.
When it ends, the values are erased from the job row; only keyed hashes remain.

``submission`` accepts or previews a batch, ``status`` shows and cancels a job, ``steps`` is
what the worker runs, and ``subjects`` finds the profiles a subject names for both sides.
"""

from obliviate.services.batches.status import cancel, status
from obliviate.services.batches.steps import dispatch_step
from obliviate.services.batches.submission import (
    IDEMPOTENCY_TTL_MS,
    MAX_SUBJECTS,
    BatchRequest,
    dry_run,
    request_hash,
    submit,
)

__all__ = [
    "IDEMPOTENCY_TTL_MS",
    "MAX_SUBJECTS",
    "BatchRequest",
    "cancel",
    "dispatch_step",
    "dry_run",
    "request_hash",
    "status",
    "submit",
]
