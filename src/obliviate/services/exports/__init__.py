"""Subject access exports (GDPR Art. 15/20): one person's document, and export jobs."""

from obliviate.services.exports.batch import (
    ExportSubmission,
    export_status,
    open_job_download,
    request_hash,
    run_export_job,
    submit_export,
)
from obliviate.services.exports.document import (
    EVENTS_PAGE,
    events_held,
    open_profile_export,
    uuids_named,
)

__all__ = [
    "EVENTS_PAGE",
    "ExportSubmission",
    "events_held",
    "export_status",
    "open_job_download",
    "open_profile_export",
    "request_hash",
    "run_export_job",
    "submit_export",
    "uuids_named",
]
