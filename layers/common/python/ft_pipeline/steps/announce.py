"""The outbox for validation outcomes: recorded in the ledger first, then published, then marked announced.

A crash between recording and publishing leaves `announced_at` unset; the next delivery of the same upload,
or the reconciler, publishes the recorded event. So an outcome is never lost, and never published by a
run that was not recorded.
"""

from __future__ import annotations

from typing import Any, Protocol

from ft_pipeline.contracts import DatasetRejected, DatasetRejectedDetail, DatasetValidated, DatasetValidatedDetail
from ft_pipeline.ledger import RunRecord

_EVENTS = {DatasetValidated.DETAIL_TYPE: (DatasetValidated, DatasetValidatedDetail),
           DatasetRejected.DETAIL_TYPE: (DatasetRejected, DatasetRejectedDetail)}


class _Publisher(Protocol):
    def publish(self, detail: Any, event_type: type, resources: list[str] | None = None) -> str: ...


class _Ledger(Protocol):
    def mark_announced(self, dataset_id: str) -> None: ...


def outcome_event(detail_type: str, detail: Any) -> dict[str, Any]:
    return {"detail_type": detail_type, "detail": detail.model_dump(mode="json")}


def announce(record: RunRecord, publisher: _Publisher, ledger: _Ledger) -> bool:
    """Publish the run's recorded outcome unless that was done; True if this call published it."""
    if record.announced_at or not record.outcome_event:
        return False
    event_type, detail_model = _EVENTS[record.outcome_event["detail_type"]]
    detail = detail_model.model_validate(record.outcome_event["detail"])
    publisher.publish(detail, event_type, resources=[detail.source.uri])
    ledger.mark_announced(record.dataset_id)
    return True
