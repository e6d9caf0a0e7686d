"""The run ledger in DynamoDB. Conditional writes make every transition happen once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from ft_pipeline.adapters.clients import client
from ft_pipeline.ledger import RunRecord, RunStatus, utc_now

_serializer, _deserializer = TypeSerializer(), TypeDeserializer()


def _to_item(value: Any) -> dict[str, Any]:
    plain = json.loads(json.dumps(value, default=str), parse_float=Decimal)
    return _serializer.serialize(plain)


def _from_item(item: dict[str, Any]) -> dict[str, Any]:
    def plain(v: Any) -> Any:
        if isinstance(v, Decimal):
            return int(v) if v == v.to_integral_value() else float(v)
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list):
            return [plain(x) for x in v]
        return v

    return {k: plain(_deserializer.deserialize(v)) for k, v in item.items()}


class ClaimOutcome(StrEnum):
    CLAIMED = "CLAIMED"  # this invocation owns the run now
    DONE = "DONE"  # an earlier delivery finished it
    BUSY = "BUSY"  # another invocation holds a live lease


@dataclass(frozen=True)
class Claim:
    outcome: ClaimOutcome
    record: RunRecord | None = None


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class LedgerTable:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def get(self, dataset_id: str) -> RunRecord | None:
        item = client("dynamodb").get_item(TableName=self.table_name, Key={"dataset_id": {"S": dataset_id}},
                                           ConsistentRead=True).get("Item")
        return RunRecord.model_validate(_from_item(item)) if item else None

    def claim_validation(self, dataset_id: str, source: dict[str, Any], owner: str, now: float,
                         lease_until: float) -> Claim:
        """Start (or take over a dead attempt at) validating `dataset_id`, exactly once per live lease."""
        at = utc_now()
        try:
            client("dynamodb").update_item(
                TableName=self.table_name,
                Key={"dataset_id": {"S": dataset_id}},
                UpdateExpression=(
                    "SET #status = :validating, lease_until = :lease, lease_owner = :owner, updated_at = :at, "
                    "created_at = if_not_exists(created_at, :at), #source = :source, "
                    "timeline = list_append(if_not_exists(timeline, :empty), :entry)"
                ),
                ConditionExpression=(
                    "attribute_not_exists(dataset_id) OR (#status = :validating AND lease_until < :now)"
                ),
                ExpressionAttributeNames={"#status": "status", "#source": "source"},
                ExpressionAttributeValues={
                    ":validating": {"S": RunStatus.VALIDATING.value},
                    ":lease": _to_item(lease_until),
                    ":owner": {"S": owner},
                    ":at": {"S": at},
                    ":source": _to_item(source),
                    ":empty": {"L": []},
                    ":entry": _to_item([{"at": at, "status": RunStatus.VALIDATING.value, "note": f"by {owner}"}]),
                    ":now": _to_item(now),
                },
            )
            return Claim(ClaimOutcome.CLAIMED)
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
        record = self.get(dataset_id)
        # any status but VALIDATING: validation finished (and later steps may have moved the run on)
        if record is not None and record.status != RunStatus.VALIDATING:
            return Claim(ClaimOutcome.DONE, record)
        return Claim(ClaimOutcome.BUSY, record)

    def release(self, dataset_id: str, owner: str, note: str) -> None:
        """Give the lease back after a failed attempt, so that the retry can claim the run at once."""
        at = utc_now()
        try:
            client("dynamodb").update_item(
                TableName=self.table_name,
                Key={"dataset_id": {"S": dataset_id}},
                UpdateExpression="SET lease_until = :zero, updated_at = :at, "
                                 "timeline = list_append(timeline, :entry) REMOVE lease_owner",
                ConditionExpression="lease_owner = :owner",
                ExpressionAttributeValues={
                    ":zero": {"N": "0"}, ":at": {"S": at}, ":owner": {"S": owner},
                    ":entry": _to_item([{"at": at, "status": "ATTEMPT_FAILED", "note": note[:500]}]),
                },
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise

    def finish_validation(self, dataset_id: str, owner: str, status: RunStatus, fields: dict[str, Any],
                          note: str) -> bool:
        """Record the outcome; False when this invocation no longer owns the run (another finished it)."""
        return self._move(dataset_id, status.value, fields, note,
                          condition="lease_owner = :owner AND #status = :validating",
                          values={":owner": {"S": owner}, ":validating": {"S": RunStatus.VALIDATING.value}},
                          remove="lease_until, lease_owner")

    def transition(self, dataset_id: str, allowed_from: frozenset[str] | set[str], to_status: str,
                   fields: dict[str, Any], note: str) -> bool:
        """Move the run to `to_status` if it is in one of `allowed_from` now. True for the one caller that
        made the move; False for every other (a duplicate, a late event, a reconciler that came second)."""
        allowed = {f":from{i}": {"S": status} for i, status in enumerate(sorted(allowed_from))}
        return self._move(dataset_id, to_status, fields, note,
                          condition=f"attribute_exists(dataset_id) AND #status IN ({', '.join(allowed)})",
                          values=allowed)

    def _move(self, dataset_id: str, to_status: str, fields: dict[str, Any], note: str, condition: str,
              values: dict[str, Any], remove: str | None = None) -> bool:
        """One conditional write: status, fields and a timeline entry together, or nothing."""
        at = utc_now()
        names = {"#status": "status"}
        values = values | {":to": {"S": to_status}, ":at": {"S": at},
                           ":entry": _to_item([{"at": at, "status": to_status, "note": note[:500]}])}
        sets = ["#status = :to", "updated_at = :at", "timeline = list_append(timeline, :entry)"]
        for i, (name, value) in enumerate(fields.items()):
            names[f"#f{i}"] = name
            values[f":f{i}"] = _to_item(value)
            sets.append(f"#f{i} = :f{i}")
        try:
            client("dynamodb").update_item(
                TableName=self.table_name,
                Key={"dataset_id": {"S": dataset_id}},
                UpdateExpression="SET " + ", ".join(sets) + (f" REMOVE {remove}" if remove else ""),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
            return True
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise

    def mark_announced(self, dataset_id: str) -> None:
        """The outcome event of validation went out (the outbox flag the reconciler checks)."""
        client("dynamodb").update_item(
            TableName=self.table_name, Key={"dataset_id": {"S": dataset_id}},
            UpdateExpression="SET announced_at = if_not_exists(announced_at, :at)",
            ConditionExpression="attribute_exists(dataset_id)",
            ExpressionAttributeValues={":at": {"S": utc_now()}},
        )

    def runs_in_status(self, status: str, updated_since: str | None = None,
                       index_name: str = "by-status") -> list[RunRecord]:
        """Runs whose status is `status` (updated since `updated_since`, an ISO time), oldest update first."""
        records: list[RunRecord] = []
        values = {":status": {"S": status}}
        condition = "#status = :status"
        if updated_since:
            values[":since"] = {"S": updated_since}
            condition += " AND updated_at >= :since"
        kwargs: dict[str, Any] = {
            "TableName": self.table_name, "IndexName": index_name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": values,
        }
        while True:
            page = client("dynamodb").query(**kwargs)
            records += [RunRecord.model_validate(_from_item(item)) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return records
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
