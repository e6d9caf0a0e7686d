"""The run ledger in DynamoDB: lifecycle transitions as conditional writes, with the run's outbox inside.

The table's key attribute is `dataset_id` (stacks deployed before runs had their own name keep their
table); it holds the run id.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from pydantic import ValidationError

from ft_pipeline.adapters.clients import client
from ft_pipeline.clock import Clock, clock, iso
from ft_pipeline.contracts import ObjectRef
from ft_pipeline.lifecycle import INITIAL, SERVING_TRANSITIONS, Guard, LeaseChange, RunState, ServingState, transition
from ft_pipeline.ports import Page, UnreadableRecord
from ft_pipeline.run_record import SECTIONS, Lease, OutboxEvent, RunRecord
from ft_pipeline.runs.cursor import InvalidCursor
from ft_pipeline.runs.cursor import decode as decode_cursor
from ft_pipeline.runs.cursor import encode as encode_cursor

KEY = "dataset_id"
BY_STATUS = "by-status"
BY_PENDING_EVENT = "by-pending-event"
BY_CREATED = "by-created"  # the runs API's view: every run, newest first (`listing` is the same for all)
LISTING, LISTED_RUN = "listing", "run"
PENDING = "PENDING"  # the value of `outbox_state` while an event waits (a sparse index holds just those runs)
NOTE_LIMIT = 500
MAX_LIST_PAGES = 10  # reads behind one page of the runs API, however selective its filters
LIST_SECONDS = 8.0  # and no more time than this: the API answers within API Gateway's 29 s
CONTENT_PREFIX = "content#"  # items that name the run of an upload's content, beside the runs

_serializer, _deserializer = TypeSerializer(), TypeDeserializer()


def _to_item(value: Any) -> dict[str, Any]:
    plain = json.loads(json.dumps(value, default=str), parse_float=Decimal)
    return _serializer.serialize(plain)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(x) for k, x in value.items()}
    if isinstance(value, list):
        return [_plain(x) for x in value]
    return value


def _from_item(item: dict[str, Any]) -> dict[str, Any]:
    plain = {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}
    plain["run_id"] = plain.pop(KEY, None)
    return plain


def _record(item: dict[str, Any]) -> RunRecord:
    return RunRecord.model_validate(_from_item(item))


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class _Expression:
    """Builds one UpdateExpression with placeholders for every name and value."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self.sets: list[str] = []
        self.removes: list[str] = []

    def name(self, path: str, *more: str) -> str:
        """`a.b` becomes `#n0.#n1` (each part a placeholder); parts in `more` are taken whole (map keys)."""
        by_part = {part: placeholder for placeholder, part in self.names.items()}
        parts = []
        for part in [*path.split("."), *more]:
            if part not in by_part:
                by_part[part] = f"#n{len(self.names)}"
                self.names[by_part[part]] = part
            parts.append(by_part[part])
        return ".".join(parts)

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = _to_item(value)
        return placeholder

    def update(self) -> str:
        text = "SET " + ", ".join(self.sets)
        return text + (" REMOVE " + ", ".join(self.removes) if self.removes else "")


class LedgerTable:
    def __init__(self, table_name: str, clock_: Clock | None = None) -> None:
        self.table_name = table_name
        self._clock = clock_

    def _now(self) -> str:
        return iso((self._clock or clock()).now())

    def _key(self, run_id: str) -> dict[str, Any]:
        return {KEY: {"S": run_id}}

    def get(self, run_id: str) -> RunRecord | None:
        item = client("dynamodb").get_item(TableName=self.table_name, Key=self._key(run_id),
                                           ConsistentRead=True).get("Item")
        return _record(item) if item else None

    # -- transitions ---------------------------------------------------------------------------------------

    def apply(self, run_id: str, name: str, *, changes: dict[str, Any] | None = None,
              event: OutboxEvent | None = None, note: str = "", lease: Lease | None = None,
              expected_lease: Lease | None = None, source: ObjectRef | None = None) -> RunRecord | None:
        """Apply lifecycle transition `name` as one conditional write: status, the step's fields, a timeline
        entry, the lease change and the event (into the outbox) together, or nothing. The new record, or None
        when the run is not in a source state of the transition or its guard fails."""
        spec = transition(name)
        at = self._now()
        expr = _Expression()
        status = expr.name("status")
        expr.sets += [f"{status} = {expr.value(spec.target.value)}", f"{expr.name('updated_at')} = {expr.value(at)}"]
        if spec.sources != {spec.target}:  # a self-transition keeps the time the state was entered
            expr.sets.append(f"{expr.name('state_since')} = {expr.value(at)}")
        timeline = expr.name("timeline")
        entry = {"at": at, "status": spec.target.value, "transition": name, "note": note[:NOTE_LIMIT]}
        expr.sets.append(f"{timeline} = list_append(if_not_exists({timeline}, {expr.value([])}), "
                         f"{expr.value([entry])})")
        creates = INITIAL in spec.sources
        if creates:
            if spec.sources != {INITIAL}:
                raise ValueError(f"{name}: a transition that creates the run has no other source")
            if source is None:
                raise ValueError(f"{name} creates the run: its source is required")
            expr.sets += [f"{expr.name('created_at')} = {expr.value(at)}",
                          f"{expr.name('source')} = {expr.value(source.model_dump())}",
                          f"{expr.name(LISTING)} = {expr.value(LISTED_RUN)}"]
            # the sections exist from the start, so later transitions can set their fields by path; a field this
            # write sets goes into its section's first document (one write may not set a map and a path inside it)
            initial: dict[str, dict[str, Any]] = {section: {} for section in SECTIONS}
            for path in [p for p in (changes or {}) if p.split(".")[0] in initial and "." in p]:
                section, _, field = path.partition(".")
                initial[section][field] = (changes or {})[path]
            changes = {p: v for p, v in (changes or {}).items() if not (p.split(".")[0] in initial and "." in p)}
            expr.sets += [f"{expr.name(section)} = {expr.value(doc)}" for section, doc in initial.items()]
        if spec.lease is LeaseChange.TAKE:
            if lease is None:
                raise ValueError(f"{name} takes a lease: pass one")
            expr.sets.append(f"{expr.name('lease')} = {expr.value(lease.model_dump())}")
        elif spec.lease is LeaseChange.CLEAR:
            expr.removes.append(expr.name("lease"))
        for path, value in (changes or {}).items():
            if path.split(".")[0] in ("status", "lease", "outbox", "timeline", "event_seq", "outbox_state", KEY):
                raise ValueError(f"{path} is the ledger's own; a transition cannot set it")
            expr.sets.append(f"{expr.name(path)} = {expr.value(value)}")
        if event is not None:
            if spec.event != event.detail_type:
                raise ValueError(f"{name} emits {spec.event}, not {event.detail_type}")
            stored = event.model_copy(update={"key": f"{name}@{at}", "created_at": at})
            stored.detail = stored.detail | {"event_id": f"{run_id}:{stored.key}"}
            document = stored.model_dump(exclude_none=True)  # absent, not NULL: if_not_exists marks it later
            if creates:
                expr.sets.append(f"{expr.name('outbox')} = {expr.value({stored.key: document})}")
            else:
                expr.sets.append(f"{expr.name('outbox', stored.key)} = {expr.value(document)}")
            expr.sets.append(f"{expr.name('outbox_state')} = {expr.value(PENDING)}")
            seq = expr.name("event_seq")
            expr.sets.append(f"{seq} = if_not_exists({seq}, {expr.value(0)}) + {expr.value(1)}")
        else:
            if spec.event is not None:
                raise ValueError(f"{name} emits {spec.event}: pass the event")
            if creates:
                expr.sets.append(f"{expr.name('outbox')} = {expr.value({})}")

        expr_condition = self._condition(expr, spec.sources, spec.guard, expected_lease, name)
        if "serving.state" in (changes or {}):  # the serving resource's own lifecycle, in the same write
            expr_condition = f"({expr_condition}) AND {self._serving_condition(expr, changes['serving.state'])}"
        return self._update(run_id, expr, expr_condition)

    @staticmethod
    def _serving_condition(expr: _Expression, target: str) -> str:
        sources = SERVING_TRANSITIONS.get(ServingState(target))
        if sources is None:
            raise ValueError(f"serving state {target!r} is not reached by any serving transition")
        path = expr.name("serving.state")
        condition = f"{path} IN ({', '.join(expr.value(s.value) for s in sorted(sources))})"
        if ServingState.NONE in sources:  # a run that never had one has no serving.state yet
            condition = f"(attribute_not_exists({path}) OR {condition})"
        return condition

    def apply_serving(self, run_id: str, target: ServingState, *, changes: dict[str, Any] | None = None,
                      note: str = "") -> RunRecord | None:
        """Move the run's serving resource along its own lifecycle, whatever the run's state (teardown happens
        after a run ended too). None when its current serving state is not a source of `target`."""
        at = self._now()
        expr = _Expression()
        updates = {"serving.state": target.value} | (changes or {})
        for path, value in updates.items():
            if path.split(".")[0] not in ("serving", "cost", "model"):
                raise ValueError(f"{path}: a serving change sets serving, cost or model fields only")
            expr.sets.append(f"{expr.name(path)} = {expr.value(value)}")
        entry = {"at": at, "status": f"serving:{target.value}", "transition": f"serving_{target.value}",
                 "note": note[:NOTE_LIMIT]}
        timeline = expr.name("timeline")
        expr.sets += [f"{timeline} = list_append({timeline}, {expr.value([entry])})",
                      f"{expr.name('updated_at')} = {expr.value(at)}"]
        condition = f"attribute_exists({expr.name(KEY)}) AND {self._serving_condition(expr, target.value)}"
        return self._update(run_id, expr, condition)

    def record_cost(self, run_id: str, cost: dict[str, Any]) -> None:
        """The cost so far (the sweeper's accrual while a resource is alive); no timeline entry."""
        expr = _Expression()
        expr.sets.append(f"{expr.name('cost')} = {expr.value(cost)}")
        self._update(run_id, expr, f"attribute_exists({expr.name(KEY)})")

    def _update(self, run_id: str, expr: _Expression, condition: str) -> RunRecord | None:
        try:
            result = client("dynamodb").update_item(
                TableName=self.table_name, Key=self._key(run_id), UpdateExpression=expr.update(),
                ConditionExpression=condition, ExpressionAttributeNames=expr.names,
                ExpressionAttributeValues=expr.values, ReturnValues="ALL_NEW")
        except ClientError as exc:
            if _conditional_failed(exc):
                return None
            raise
        return _record(result["Attributes"])

    @staticmethod
    def _condition(expr: _Expression, sources: frozenset[str], guard: Guard, expected: Lease | None,
                   name: str) -> str:
        alternatives = []
        if INITIAL in sources:
            alternatives.append(f"attribute_not_exists({expr.name(KEY)})")
        states = sorted(s for s in sources if s != INITIAL)
        if states:
            parts = [f"{expr.name('status')} IN ({', '.join(expr.value(s) for s in states)})"]
            if guard is Guard.TAKEOVER and expected is None:  # the caller read a run without a lease: still none
                parts.append(f"attribute_not_exists({expr.name('lease')})")
            elif guard is not Guard.NONE:
                if expected is None:
                    raise ValueError(f"{name} is guarded by the lease its caller holds: pass it")
                parts.append(f"{expr.name('lease.owner')} = {expr.value(expected.owner)}")
                if guard is Guard.TAKEOVER:  # nobody renewed or took it since the caller read it
                    parts.append(f"{expr.name('lease.until')} = {expr.value(expected.until)}")
            alternatives.append(" AND ".join(parts))
        return alternatives[0] if len(alternatives) == 1 else " OR ".join(f"({a})" for a in alternatives)

    # -- the outbox ----------------------------------------------------------------------------------------------

    def mark_delivered(self, run_id: str, key: str, what: str) -> None:
        """`what` is announced_at or notified_at; the first mark wins."""
        if what not in ("announced_at", "notified_at"):
            raise ValueError(what)
        expr = _Expression()
        path = expr.name("outbox", key, what)
        expr.sets.append(f"{path} = if_not_exists({path}, {expr.value(self._now())})")
        client("dynamodb").update_item(
            TableName=self.table_name, Key=self._key(run_id), UpdateExpression=expr.update(),
            ConditionExpression=f"attribute_exists({expr.name('outbox', key)})",
            ExpressionAttributeNames=expr.names, ExpressionAttributeValues=expr.values)

    def settle_outbox(self, run_id: str, event_seq: int) -> None:
        """Take the run out of the pending-event index, unless an event was recorded since `event_seq`."""
        try:
            client("dynamodb").update_item(
                TableName=self.table_name, Key=self._key(run_id), UpdateExpression="REMOVE outbox_state",
                ConditionExpression="event_seq = :seq", ExpressionAttributeValues={":seq": {"N": str(event_seq)}})
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise

    # -- queries for the sweeper -------------------------------------------------------------------------------

    def runs_with_pending_events(self, updated_before: str) -> Iterator[str]:
        """Ids of runs with an undelivered event, last moved before `updated_before` (a sparse, keys-only index)."""
        for item in self._query(BY_PENDING_EVENT, "#o = :p AND #u <= :before",
                                {"#o": "outbox_state", "#u": "updated_at"},
                                {":p": {"S": PENDING}, ":before": {"S": updated_before}}):
            yield item[KEY]["S"]

    def claim_content(self, content_key: str, run_id: str, replacing: str | None = None) -> str:
        """One item per content key (`content#…`, no status: it is in neither index) naming its run."""
        key = self._key(CONTENT_PREFIX + content_key)
        guard: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(#k)",
                                 "ExpressionAttributeNames": {"#k": KEY}}
        if replacing is not None:
            guard = {"ConditionExpression": "#r = :replacing", "ExpressionAttributeNames": {"#r": "run_id"},
                     "ExpressionAttributeValues": {":replacing": {"S": replacing}}}
        try:
            client("dynamodb").put_item(
                TableName=self.table_name, Item=key | {"run_id": {"S": run_id}, "claimed_at": {"S": self._now()}},
                **guard)
            return run_id
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
        item = client("dynamodb").get_item(TableName=self.table_name, Key=key, ConsistentRead=True).get("Item")
        if item is None:  # the holder's item went away between the two calls: claim it afresh
            return self.claim_content(content_key, run_id)
        return item["run_id"]["S"]

    def runs_in_state(self, state: RunState) -> Iterator[RunRecord | UnreadableRecord]:
        for item in self._query(BY_STATUS, "#s = :s", {"#s": "status"}, {":s": {"S": state.value}}):
            yield self._readable(item)

    # -- the runs API's listing -------------------------------------------------------------------------------

    def list_runs(self, *, limit: int, cursor: str | None, state: RunState | None = None, since: str | None = None,
                  until: str | None = None, key: str | None = None) -> Page:
        """Runs newest first, `limit` at most, from `cursor` on; filtered by state, creation time and upload key.
        A page may hold fewer runs than `limit` when filters leave few (at most MAX_LIST_PAGES reads a page):
        follow the cursor until there is none."""
        names = {"#l": LISTING} | ({"#c": "created_at"} if since or until else {})
        values: dict[str, Any] = {":run": {"S": LISTED_RUN}}
        condition = "#l = :run"
        if since and until:
            condition += " AND #c BETWEEN :since AND :until"
        elif since:
            condition += " AND #c >= :since"
        elif until:
            condition += " AND #c <= :until"
        values |= {k: {"S": v} for k, v in ((":since", since), (":until", until)) if v}
        filters = []
        if state is not None:
            names["#s"], values[":s"] = "status", {"S": state.value}
            filters.append("#s = :s")
        if key is not None:
            names["#src"], names["#k"], values[":k"] = "source", "key", {"S": key}
            filters.append("#src.#k = :k")
        kwargs: dict[str, Any] = {"TableName": self.table_name, "IndexName": BY_CREATED, "ScanIndexForward": False,
                                  "KeyConditionExpression": condition, "ExpressionAttributeNames": names,
                                  "ExpressionAttributeValues": values}
        if filters:
            kwargs["FilterExpression"] = " AND ".join(filters)
        start = decode_cursor(cursor, frozenset({KEY, LISTING, "created_at"}), {LISTING: LISTED_RUN})
        records: list[RunRecord | UnreadableRecord] = []
        began = time.monotonic()
        for _ in range(MAX_LIST_PAGES):
            if start:
                kwargs["ExclusiveStartKey"] = start
            try:
                page = client("dynamodb").query(**kwargs, Limit=limit - len(records))
            except ClientError as exc:  # a well-formed cursor of another listing (other filters, a deleted run)
                if start and exc.response.get("Error", {}).get("Code") == "ValidationException":
                    raise InvalidCursor("cursor: not one for this listing (start again without it)") from None
                raise
            records += [self._readable(item) for item in page.get("Items", [])]
            start = page.get("LastEvaluatedKey")
            if not start or len(records) >= limit or time.monotonic() - began > LIST_SECONDS:
                break  # a short page with a cursor: the caller follows it (an answer in time beats a full page)
        return Page(records, encode_cursor(start))

    @staticmethod
    def _readable(item: dict[str, Any]) -> RunRecord | UnreadableRecord:
        try:
            return _record(item)
        except (ValidationError, ValueError, TypeError) as exc:
            return UnreadableRecord((item.get(KEY) or {}).get("S", "?"), f"{type(exc).__name__}: {str(exc)[:300]}")

    def _query(self, index: str, condition: str, names: dict[str, str], values: dict[str, Any]
               ) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {"TableName": self.table_name, "IndexName": index,
                                  "KeyConditionExpression": condition, "ExpressionAttributeNames": names,
                                  "ExpressionAttributeValues": values}
        while True:
            page = client("dynamodb").query(**kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
