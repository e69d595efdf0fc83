"""How a harvest run ends (or that it still goes), in one place, as the exchange's
shipment states are in `exchange/states.py`.

The values are what the `harvest_runs.status` column holds; a StrEnum member is its own
value, so queries, JSON and templates compare either alike. Each status is also the
English word shown for it, marked for translation here and translated on the pages.
"""

from __future__ import annotations

from enum import StrEnum

from libfed.kernel.errors import N_


class RunStatus(StrEnum):
    # The run goes on (or its process died: the next run of the source ends it as failed).
    RUNNING = "running"
    # Through the whole list: the watermark moved, the next run asks only what changed.
    SUCCEEDED = "succeeded"
    # Stopped after writing pages: the next run resumes from the last page written.
    PARTIAL = "partial"
    # Stopped before writing any page, or its process died (the next run resumes).
    FAILED = "failed"
    # The provider asked us to come back later: no request until then.
    PARKED = "parked"


# Each status as people read it: msgids, which the pages translate.
LABELS = {
    RunStatus.RUNNING: N_("running"),
    RunStatus.SUCCEEDED: N_("succeeded"),
    RunStatus.PARTIAL: N_("partial"),
    RunStatus.FAILED: N_("failed"),
    RunStatus.PARKED: N_("parked"),
}
