"""In-memory stand-ins for the ports, for logic tests without AWS. The ledger honours the lifecycle table
(sources, guards, leases, the outbox) the way the DynamoDB adapter does; integration tests cover the adapter."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from ft_pipeline.clock import ManualClock, iso
from ft_pipeline.lifecycle import INITIAL, Guard, LeaseChange, RunState, transition
from ft_pipeline.ports import JobSnapshot, PermanentJobError
from ft_pipeline.run_record import SECTIONS, RunRecord


class InMemoryLedger:
    def __init__(self, clock: ManualClock | None = None) -> None:
        self.clock = clock or ManualClock(datetime(2026, 12, 1, tzinfo=UTC))
        self.items: dict[str, dict[str, Any]] = {}
        self.applied: list[str] = []
        self.contents: dict[str, str] = {}

    def put(self, run_id: str, status: RunState, **fields: Any) -> RunRecord:
        at = iso(self.clock.now())
        item = {"run_id": run_id, "status": status.value, "created_at": at, "updated_at": at, "state_since": at,
                "source": {"bucket": "bkt", "key": "incoming/x.csv"}, "outbox": {}, "event_seq": 0,
                **{s: {} for s in SECTIONS}} | fields
        self.items[run_id] = item
        return RunRecord.model_validate(item)

    def get(self, run_id: str) -> RunRecord | None:
        item = self.items.get(run_id)
        return RunRecord.model_validate(copy.deepcopy(item)) if item else None

    def apply(self, run_id, name, *, changes=None, event=None, note="", lease=None, expected_lease=None,
              source=None):
        spec = transition(name)
        item = self.items.get(run_id)
        if item is None:
            if INITIAL not in spec.sources:
                return None
            item = self.put(run_id, RunState.VALIDATING).model_dump() | {"source": source.model_dump()}
        elif item["status"] not in spec.sources:
            return None
        if spec.guard is not Guard.NONE:
            held = item.get("lease") or {}
            if held.get("owner") != expected_lease.owner:
                return None
            if spec.guard is Guard.TAKEOVER and held.get("until") != expected_lease.until:
                return None
        at = iso(self.clock.now())
        item = copy.deepcopy(item)
        item["status"], item["updated_at"] = spec.target.value, at
        item.setdefault("timeline", []).append({"at": at, "status": spec.target.value, "transition": name,
                                                "note": note})
        if spec.lease is LeaseChange.TAKE:
            item["lease"] = lease.model_dump()
        elif spec.lease is LeaseChange.CLEAR:
            item.pop("lease", None)
        for path, value in (changes or {}).items():
            *parents, last = path.split(".")
            target = item
            for part in parents:
                target = target.setdefault(part, {})
            target[last] = value
        if event is not None:
            assert event.detail_type == spec.event
            key = f"{name}@{at}"
            stored = event.model_copy(update={"key": key, "created_at": at})
            stored.detail = stored.detail | {"event_id": f"{run_id}:{key}"}
            item["outbox"][key] = stored.model_dump()
            item["outbox_state"], item["event_seq"] = "PENDING", item["event_seq"] + 1
        self.items[run_id] = item
        self.applied.append(name)
        return RunRecord.model_validate(copy.deepcopy(item))

    def mark_delivered(self, run_id: str, key: str, what: str) -> None:
        self.items[run_id]["outbox"][key].setdefault(what, None)
        self.items[run_id]["outbox"][key][what] = self.items[run_id]["outbox"][key][what] or iso(self.clock.now())

    def settle_outbox(self, run_id: str, event_seq: int) -> None:
        if self.items[run_id]["event_seq"] == event_seq:
            self.items[run_id].pop("outbox_state", None)

    def runs_in_state(self, state):
        return [self.get(i) for i, item in self.items.items() if item["status"] == state.value]

    def runs_with_pending_events(self, updated_before):
        return [i for i, item in self.items.items()
                if item.get("outbox_state") and item["updated_at"] <= updated_before]

    def claim_content(self, content_key, run_id, replacing=None):
        holder = self.contents.get(content_key)
        if holder is None or holder == replacing:
            self.contents[content_key] = run_id
            return run_id
        return holder


class RecordingPublisher:
    def __init__(self) -> None:
        self.events: list[Any] = []
        self.notes: list[tuple[str, str]] = []

    def publish(self, event) -> str:
        self.events.append(event)
        return f"id-{len(self.events)}"

    def notify(self, subject: str, message: str) -> None:
        self.notes.append((subject, message))

    def types(self) -> list[str]:
        return [e.detail_type for e in self.events]


class ScriptedBedrock:
    """Creates jobs (or refuses them with `refuse`), answers what they are, stops them."""

    def __init__(self, refuse: PermanentJobError | None = None) -> None:
        self.refuse = refuse
        self.requests: list[dict[str, Any]] = []
        self.jobs: dict[str, JobSnapshot] = {}

    def create_job(self, request):
        self.requests.append(request)
        if self.refuse:
            raise self.refuse
        name = request["jobName"]
        self.jobs.setdefault(name, JobSnapshot(job_arn=f"arn:job/{name}", job_name=name, status="InProgress"))
        return self.jobs[name].job_arn

    def get_job(self, job_name):
        return self.jobs.get(job_name)

    def stop_job(self, job_name):
        job = self.jobs.get(job_name)
        if job is None or job.status != "InProgress":
            return False
        self.jobs[job_name] = job.model_copy(update={"status": "Stopping"})
        return True
