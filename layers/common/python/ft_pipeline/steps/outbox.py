"""The outbox: every event the pipeline emits is recorded by the transition that causes it, then delivered.

Delivery order per event: the notification (if any) is sent and marked, then the event is published and
marked announced; then the run leaves the pending-event index unless a newer event was recorded meanwhile.
A crash anywhere in between leaves the event pending: the next delivery of the same trigger, or the
sweeper, delivers it. So no event is lost, and none is published for a transition that did not happen. The
bus delivers at least once in any case; each event carries a stable `event_id` to dedupe on.
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel

from ft_pipeline.contracts import EventBridgeEvent
from ft_pipeline.run_record import Notification, OutboxEvent, RunRecord


class _Deps(Protocol):
    ledger: Any
    publisher: Any
    notifier: Any


def new_event(event_type: type[EventBridgeEvent[Any]], detail: BaseModel, resources: list[str] | None = None,
              notification: Notification | None = None) -> OutboxEvent:
    """An event to record with a transition (the ledger gives it its key and time)."""
    return OutboxEvent(detail_type=event_type.DETAIL_TYPE, source=event_type.SOURCE,  # type: ignore[attr-defined]
                       detail=detail.model_dump(mode="json"), resources=resources or [], notification=notification)


def deliver_pending(record: RunRecord | None, deps: _Deps, seen_event_id: str | None = None) -> int:
    """Deliver what `record` still owes; the number of events published. Exceptions propagate (the caller's
    retry, or the sweeper's next period, delivers what is left).

    `seen_event_id`: the event that triggered the caller. It evidently was published, so it is marked, never
    published again: a consumer that republished its own trigger on every duplicate would loop forever
    whenever marking fails."""
    if record is None:
        return 0
    published, left = 0, False
    for event in record.pending_events():
        if event.notification is not None and event.notified_at is None:
            if deps.notifier is None:  # a step without the topic (the validator): the sweeper delivers it
                left = True
                continue
            deps.notifier.notify(event.notification.subject, event.notification.message)
            deps.ledger.mark_delivered(record.run_id, event.key, "notified_at")
        if event.announced_at is None:
            if seen_event_id is None or event.detail.get("event_id") != seen_event_id:
                deps.publisher.publish(event)
                published += 1
            deps.ledger.mark_delivered(record.run_id, event.key, "announced_at")
    if record.outbox_state is not None and not left:
        deps.ledger.settle_outbox(record.run_id, record.event_seq)
    return published
