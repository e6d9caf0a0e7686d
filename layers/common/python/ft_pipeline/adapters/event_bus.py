"""Publishing our events to the stack's EventBridge bus (always from the ledger's outbox)."""

from __future__ import annotations

import json

from ft_pipeline.adapters.clients import client
from ft_pipeline.contracts import StopRequested, StopRequestedDetail, put_events_entry
from ft_pipeline.run_record import OutboxEvent


class PublishError(RuntimeError):
    pass


class EventBridgePublisher:
    def __init__(self, bus_name: str) -> None:
        self.bus_name = bus_name

    def publish(self, event: OutboxEvent) -> str:
        entry = {"Source": event.source, "DetailType": event.detail_type, "Detail": json.dumps(event.detail),
                 "EventBusName": self.bus_name, "Resources": event.resources}
        result = client("events").put_events(Entries=[entry])
        if result.get("FailedEntryCount"):
            failed = result["Entries"][0]
            raise PublishError(f"PutEvents failed: {failed.get('ErrorCode')}: {failed.get('ErrorMessage')}")
        return result["Entries"][0]["EventId"]


class StopRequests:
    """A user's stop, as `make stop-run` and the runs API send it: StopRequested on the pipeline bus."""

    def __init__(self, bus_name: str) -> None:
        self.bus_name = bus_name

    def send_stop(self, run_id: str, requested_by: str | None) -> None:
        entry = put_events_entry(StopRequestedDetail(run_id=run_id, requested_by=requested_by), StopRequested,
                                 self.bus_name)
        result = client("events").put_events(Entries=[entry])
        if result.get("FailedEntryCount"):
            failed = result["Entries"][0]
            raise PublishError(f"PutEvents failed: {failed.get('ErrorCode')}: {failed.get('ErrorMessage')}")
