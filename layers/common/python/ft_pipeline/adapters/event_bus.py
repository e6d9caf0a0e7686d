"""Publishing our events to the stack's EventBridge bus."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ft_pipeline.adapters.clients import client
from ft_pipeline.contracts import EventBridgeEvent, put_events_entry


class PublishError(RuntimeError):
    pass


class EventBridgePublisher:
    def __init__(self, bus_name: str) -> None:
        self.bus_name = bus_name

    def publish(self, detail: BaseModel, event_type: type[EventBridgeEvent[Any]],
                resources: list[str] | None = None) -> str:
        entry = put_events_entry(detail, event_type, self.bus_name, resources)
        result = client("events").put_events(Entries=[entry])
        if result.get("FailedEntryCount"):
            failed = result["Entries"][0]
            raise PublishError(f"PutEvents failed: {failed.get('ErrorCode')}: {failed.get('ErrorMessage')}")
        return result["Entries"][0]["EventId"]
