"""Run the stack locally: moto for S3, DynamoDB, EventBridge, SQS and SNS, and the real handlers.

Wiring comes from `template.yaml` alone. Each EventBridgeRule event of each function becomes a rule
on its bus in moto, with the template's pattern, targeting a queue the harness drains into the handler
(moto cannot invoke Lambda targets without Docker). So moto's EventBridge does the matching, exactly as
it does for any rule, and an event the template would not route never reaches a handler.

Lambda's asynchronous semantics are kept: failed invocations are retried (EventInvokeConfig
MaximumRetryAttempts, default 2) and then sent to the OnFailure destination; `deliveries=N` delivers
every event N times to exercise idempotency.

Time is the harness's: a `ManualClock` that every handler reads (`ft_pipeline.clock`), moved only by
`advance(...)` and `tick()`, which also fire the template's schedules as their periods pass. Faults are
injected at the boto layer (`faults`, see `local_emulation/faults.py`).

IAM is checked too (`local_emulation/iam.py`): every AWS call a handler makes is evaluated against its function's
policies in the template before it is sent, and recorded (`iam_calls()`, `iam_denials()`, `iam_unused_grants()`).
With `enforce_iam=True` (the default) a call the policies do not allow fails as in AWS, with a ClientError
AccessDenied(Exception); with False it is only recorded. The harness's own calls are not checked.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import json
import os
import re
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote_plus

import boto3
from moto import mock_aws

from ft_pipeline.adapters.clients import reset_clients
from ft_pipeline.clock import ManualClock, use_clock
from ft_pipeline.contracts import S3Bucket, S3Object, S3ObjectCreatedDetail, S3ObjectCreatedEvent, ScheduledEvent
from local_emulation import faults as fault_hooks
from local_emulation import iam
from local_emulation.bedrock import BedrockEmulator
from local_emulation.faults import FaultInjector, LambdaDied
from local_emulation.template import ACCOUNT_ID, REGION, Stack

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = REPO_ROOT / "template.yaml"

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
    "POWERTOOLS_TRACE_DISABLED": "1", "POWERTOOLS_METRICS_DISABLED": "1",
}



def _exempt_from_iam(context: Any = None, **_: Any) -> None:
    if isinstance(context, dict):
        context["iam_exempt"] = True


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    timeout_s: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    function_version: str = "$LATEST"
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - (time.monotonic() - self._started)) * 1000))


@dataclass
class Invocation:
    function: str
    event: dict[str, Any]
    attempt: int
    result: Any = None
    error: str | None = None
    output: str = ""
    at: datetime | None = None  # the harness clock's time when it started
    seconds: float = 0.0  # how long the handler ran (wall time)


@dataclass
class Route:
    function: str  # logical id
    event_name: str
    bus: str
    pattern: dict[str, Any]
    queue_url: str


STAND_IN_NOTE = ("local emulation: the tuned model is a TF-IDF + logistic-regression classifier trained on the "
                 "training split, and the base model the same learner shown only 4 examples per label; neither is "
                 "an LLM, and no figure here is Bedrock's")


@dataclass
class QueueSource:
    """An SQS event source mapping: Lambda polls the queue and hands the function batches of messages."""

    function: str  # logical id
    event_name: str
    queue_url: str
    queue_arn: str
    batch_size: int
    partial_failures: bool  # FunctionResponseTypes: ReportBatchItemFailures
    max_receives: int | None  # the queue's redrive policy: after this many receives, to its dead-letter queue
    dead_letter_url: str | None


@dataclass
class Schedule:
    function: str
    event_name: str
    expression: str
    period: timedelta | None  # None for cron(...): fired once per tick
    next_at: datetime | None = None


_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")


def schedule_period(expression: str) -> timedelta | None:
    match = _RATE.fullmatch(expression.strip())
    if not match:
        return None
    amount, unit = int(match.group(1)), match.group(2).rstrip("s")
    return timedelta(**{f"{unit}s": amount})


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class LocalPipeline:
    def __init__(self, template: Path = TEMPLATE, parameter_overrides: dict[str, str] | None = None,
                 stack_name: str = "ftp-local", deliveries: int = 1, encode_s3_keys: bool = True,
                 log_level: str = "WARNING", enforce_iam: bool = True,
                 function_env: dict[str, str] | None = None) -> None:
        self.stack = Stack(template, stack_name, parameter_overrides)
        self.function_env = function_env or {}  # beside the template's (e.g. a local SageMaker endpoint's URL)
        self.iam = iam.IamChecker(self.stack, self._iam_environment(), enforce=enforce_iam)
        self.deliveries = deliveries
        self.encode_s3_keys = encode_s3_keys
        self.log_level = log_level
        self.routes: list[Route] = []
        self.schedules: list[Schedule] = []  # fired as the clock passes their periods (advance, tick)
        self.queue_sources: list[QueueSource] = []  # SQS event sources, polled by run()
        self.clock = ManualClock()
        self.faults = FaultInjector()
        self.events: list[dict[str, Any]] = []  # every event seen on any bus, in order
        self.invocations: list[Invocation] = []
        self.failures: list[Invocation] = []  # invocations that failed after all retries
        self._taps: dict[str, str] = {}
        self._modules: dict[str, ModuleType] = {}
        self._mock: Any = None
        self._bedrock: BedrockEmulator | None = None
        self._env_saved: dict[str, str | None] = {}

    # -- lifecycle ----------------------------------------------------------------------------------

    def __enter__(self) -> LocalPipeline:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        endpoint_variables = [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL")] + ["AWS_PROFILE"]
        for key in endpoint_variables:  # mock_aws does not intercept clients aimed at an endpoint URL
            self._env_saved[key] = os.environ.pop(key, None)
        for key, value in FAKE_ENV.items():
            self._env_saved.setdefault(key, os.environ.get(key))
            os.environ[key] = value
        fault_hooks.install(self.faults)  # before any client of the code under test exists
        iam.install(self.iam)
        use_clock(self.clock)
        self._mock = mock_aws()
        self._mock.start()
        reset_clients()
        self._provision()
        self._wire_rules()
        self.bedrock.install()

    def stop(self) -> None:
        if self._bedrock is not None:
            self._bedrock.uninstall()
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        reset_clients()
        use_clock(None)
        fault_hooks.install(None)
        iam.install(None)
        for key, value in self._env_saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    @property
    def bedrock(self) -> BedrockEmulator:
        if self._bedrock is None:
            self._bedrock = BedrockEmulator(self)
        return self._bedrock

    def client(self, service: str) -> Any:
        """A client for the harness's own calls (and tests'): IAM does not check them."""
        made = boto3.client(service, region_name=REGION)
        made.meta.events.register_first("before-parameter-build", _exempt_from_iam)
        return made

    # -- provisioning from the template --------------------------------------------------------------

    def _provision(self) -> None:
        s3, ddb, events, sqs, sns = (self.client(s) for s in ("s3", "dynamodb", "events", "sqs", "sns"))
        for lid, res in self.stack.of_type("AWS::S3::Bucket").items():
            name = self.stack.physical[lid].name
            s3.create_bucket(Bucket=name)
            props = self.stack.resolve(res.get("Properties") or {})
            if (props.get("VersioningConfiguration") or {}).get("Status") == "Enabled":
                s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        for lid, res in self.stack.of_type("AWS::DynamoDB::Table").items():
            props = self.stack.resolve(res["Properties"])
            kwargs: dict[str, Any] = {"TableName": self.stack.physical[lid].name,
                                      "AttributeDefinitions": props["AttributeDefinitions"],
                                      "KeySchema": props["KeySchema"], "BillingMode": "PAY_PER_REQUEST"}
            if props.get("GlobalSecondaryIndexes"):
                kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
            ddb.create_table(**kwargs)
        for lid in self.stack.of_type("AWS::Events::EventBus"):
            events.create_event_bus(Name=self.stack.physical[lid].name)
        for lid in self.stack.of_type("AWS::SQS::Queue"):
            sqs.create_queue(QueueName=self.stack.physical[lid].name)
        for lid in self.stack.of_type("AWS::SNS::Topic"):
            sns.create_topic(Name=self.stack.physical[lid].name)

    def _queue(self, name: str) -> tuple[str, str]:
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    def _wire_rules(self) -> None:
        events = self.client("events")
        buses = {"default"} | {self.stack.physical[lid].name for lid in self.stack.of_type("AWS::Events::EventBus")}
        for bus in sorted(buses):  # a tap per bus records every event for inspection
            url, arn = self._queue(f"harness-tap-{bus}"[:80])
            events.put_rule(Name="harness-tap", EventBusName=bus, EventPattern=json.dumps({"source": [{"prefix": ""}]}))
            events.put_targets(Rule="harness-tap", EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn}])
            self._taps[bus] = url
        for lid, res in self.stack.of_type("AWS::Serverless::Function").items():
            for event_name, spec in ((res.get("Properties") or {}).get("Events") or {}).items():
                if spec["Type"] == "Schedule":
                    expression = self.stack.resolve(spec["Properties"])["Schedule"]
                    period = schedule_period(expression)
                    self.schedules.append(Schedule(lid, event_name, expression, period,
                                                   self.clock.now() + period if period else None))
                    continue
                if spec["Type"] == "Api":
                    continue  # served over HTTP by local_emulation.api_server
                if spec["Type"] == "SQS":
                    self.queue_sources.append(self._queue_source(lid, event_name, spec["Properties"]))
                    continue
                if spec["Type"] != "EventBridgeRule":
                    raise NotImplementedError(f"{lid}.{event_name}: event type {spec['Type']} is not emulated")
                props = self.stack.resolve(spec["Properties"])
                bus = props.get("EventBusName", "default")
                pattern = props["Pattern"]
                url, arn = self._queue(f"harness-{lid}-{event_name}"[:80])
                rule = f"{lid}-{event_name}"[:64]
                events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps(pattern))
                events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "fn", "Arn": arn}])
                self.routes.append(Route(lid, event_name, bus, pattern, url))

    def _queue_source(self, function: str, event_name: str, spec: dict[str, Any]) -> QueueSource:
        props = self.stack.resolve(spec)
        queue_lid = spec["Queue"]["Fn::GetAtt"][0] if isinstance(spec["Queue"], dict) else None
        arn = props["Queue"]
        sqs = self.client("sqs")
        url = sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"]
        max_receives, dlq_url = None, None
        if queue_lid is not None:
            queue_props = self.stack.resolve(self.stack.resources[queue_lid].get("Properties") or {})
            redrive = queue_props.get("RedrivePolicy") or {}
            if redrive:
                max_receives = int(redrive["maxReceiveCount"])
                dlq_url = sqs.get_queue_url(QueueName=redrive["deadLetterTargetArn"].rsplit(":", 1)[-1])["QueueUrl"]
        return QueueSource(function, event_name, url, arn, int(props.get("BatchSize", 10)),
                           "ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
                           max_receives, dlq_url)

    def _poll_queue_sources(self) -> bool:
        """One poll of every SQS event source, as Lambda's poller does: a batch per invocation; failed
        messages (the whole batch, or those reported) become visible again, and go to the dead-letter queue
        after the queue's maxReceiveCount."""
        sqs, delivered = self.client("sqs"), False
        for source in self.queue_sources:
            retry_later: list[str] = []  # failed in this poll: visible again for the next round of run()
            while messages := sqs.receive_message(QueueUrl=source.queue_url, MaxNumberOfMessages=source.batch_size,
                                                  AttributeNames=["All"], VisibilityTimeout=300).get("Messages", []):
                delivered = True
                event = {"Records": [{
                    "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                    "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs", "eventSourceARN": source.queue_arn, "awsRegion": REGION,
                } for m in messages]}
                invocation = self.invoke(source.function, event)
                if invocation.error is not None:
                    failed = {m["MessageId"] for m in messages}
                elif source.partial_failures and isinstance(invocation.result, dict):
                    failed = {f["itemIdentifier"] for f in invocation.result.get("batchItemFailures") or []}
                else:
                    failed = set()
                for m in messages:
                    receives = int(m.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
                    if m["MessageId"] not in failed:
                        sqs.delete_message(QueueUrl=source.queue_url, ReceiptHandle=m["ReceiptHandle"])
                    elif source.max_receives is not None and receives >= source.max_receives and source.dead_letter_url:
                        sqs.send_message(QueueUrl=source.dead_letter_url, MessageBody=m["Body"])
                        sqs.delete_message(QueueUrl=source.queue_url, ReceiptHandle=m["ReceiptHandle"])
                        self.failures.append(invocation)
                    else:
                        retry_later.append(m["ReceiptHandle"])
            for handle in retry_later:
                sqs.change_message_visibility(QueueUrl=source.queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
        return delivered

    # -- the outside world -----------------------------------------------------------------------------

    def resource_name(self, logical_id: str) -> str:
        return self.stack.physical[logical_id].name

    @property
    def data_bucket(self) -> str:
        return self.resource_name("DataBucket")

    def upload(self, key: str, body: bytes, bucket: str | None = None) -> dict[str, Any]:
        """PutObject, then the "Object Created" event S3 sends when the bucket has EventBridge enabled."""
        bucket = bucket or self.data_bucket
        put = self.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
        if bucket in self._eventbridge_buckets:
            self.put_event(self.object_created_event(bucket, key, len(body), put["ETag"].strip('"'),
                                                     put.get("VersionId")))
        return put

    def object_created_event(self, bucket: str, key: str, size: int, etag: str,
                             version_id: str | None) -> dict[str, Any]:
        # S3 URL-encodes keys in its notifications ("a b" -> "a+b"); '/' stays, or prefix rules could not match
        event_key = quote_plus(key, safe="/") if self.encode_s3_keys else key
        detail = S3ObjectCreatedDetail(
            bucket=S3Bucket(name=bucket),
            object=S3Object(key=event_key, size=size, etag=etag, version_id=version_id,
                            sequencer=f"{time.time_ns():X}"),
            request_id=uuid.uuid4().hex[:16].upper(), requester=ACCOUNT_ID, reason="PutObject",
        )
        event = S3ObjectCreatedEvent(detail_type="Object Created", source="aws.s3", detail=detail,
                                     resources=[f"arn:aws:s3:::{bucket}"])
        return event.model_dump(mode="json", by_alias=True, exclude_none=True)

    def put_event(self, event: dict[str, Any], bus: str = "default") -> None:
        entry = {"Source": event["source"], "DetailType": event["detail-type"], "Detail": json.dumps(event["detail"]),
                 "Resources": event.get("resources", []), "EventBusName": bus}
        result = self.client("events").put_events(Entries=[entry])
        if result["FailedEntryCount"]:
            raise RuntimeError(f"put_events failed: {result['Entries']}")

    # -- delivery ---------------------------------------------------------------------------------------

    def run(self, max_rounds: int = 100) -> None:
        """Deliver queued events to their handlers until nothing is left to deliver."""
        sqs = self.client("sqs")
        for _ in range(max_rounds):
            self._drain_taps()
            delivered = False
            for route in self.routes:
                while True:
                    messages = sqs.receive_message(QueueUrl=route.queue_url, MaxNumberOfMessages=10,
                                                   WaitTimeSeconds=0).get("Messages", [])
                    if not messages:
                        break
                    for message in messages:
                        sqs.delete_message(QueueUrl=route.queue_url, ReceiptHandle=message["ReceiptHandle"])
                        event = self._as_lambda_event(json.loads(message["Body"]))
                        for _ in range(self.deliveries):
                            self.invoke_async(route.function, event)
                        delivered = True
            delivered = self._poll_queue_sources() or delivered
            if not delivered:
                self._drain_taps()
                return
        raise RuntimeError(f"events still flowing after {max_rounds} rounds: is there a loop in the wiring?")

    def advance(self, *, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0
                ) -> list[Invocation]:
        """Move the clock on; every schedule fires once for each of its periods that ends on the way (in time
        order, each firing's events delivered before the next), then queued events are delivered."""
        target = self.clock.now() + timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        fired: list[Invocation] = []
        while True:
            due = [s for s in self.schedules if s.next_at is not None and s.next_at <= target]
            if not due:
                break
            schedule = min(due, key=lambda s: s.next_at)  # type: ignore[arg-type, return-value]
            self.clock.set(schedule.next_at)  # type: ignore[arg-type]
            schedule.next_at = schedule.next_at + schedule.period  # type: ignore[operator]
            fired.append(self.fire(schedule))
        self.clock.set(target)
        self.run()
        return fired

    def tick(self) -> list[Invocation]:
        """One period of the slowest schedule: the clock moves that far and every scheduled function runs at
        least once (cron schedules, which are not emulated, exactly once)."""
        periods = [s.period for s in self.schedules if s.period is not None]
        fired = self.advance(seconds=max(periods).total_seconds()) if periods else []
        fired += [self.fire(s) for s in self.schedules if s.period is None]
        return fired

    def fire(self, schedule: Schedule) -> Invocation:
        """One firing of a schedule now: the scheduled function runs, then the events it caused are delivered."""
        event = ScheduledEvent(detail_type=ScheduledEvent.DETAIL_TYPE, source=ScheduledEvent.SOURCE, detail={},
                               time=self.clock.now(), resources=[
                                   f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{schedule.function}-{schedule.event_name}"])
        invocation = self.invoke_async(schedule.function, event.model_dump(mode="json", by_alias=True))
        self.run()
        return invocation

    def _drain_taps(self) -> None:
        sqs = self.client("sqs")
        for url in self._taps.values():
            while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                for message in messages:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                    self.events.append(self._as_lambda_event(json.loads(message["Body"])))

    @staticmethod
    def _as_lambda_event(event: dict[str, Any]) -> dict[str, Any]:
        event.setdefault("account", ACCOUNT_ID)  # moto's envelope omits it; EventBridge always sends it
        if isinstance(event.get("time"), (int, float)):
            event["time"] = datetime.fromtimestamp(event["time"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return event

    def invoke_async(self, function: str, event: dict[str, Any]) -> Invocation:
        """Invoke as Lambda does for EventBridge: retry on error, then the OnFailure destination."""
        config = (self.stack.resources[function].get("Properties") or {}).get("EventInvokeConfig") or {}
        attempts = 1 + int(config.get("MaximumRetryAttempts", 2))
        invocation = Invocation(function, event, 0)
        for attempt in range(1, attempts + 1):
            invocation = self.invoke(function, event, attempt)
            if invocation.error is None:
                return invocation
        self.failures.append(invocation)
        destination = self.stack.resolve((config.get("DestinationConfig") or {}).get("OnFailure") or {})
        if destination.get("Type") == "SQS":
            name = destination["Destination"].rsplit(":", 1)[-1]
            url = self.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
            self.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps({
                "requestContext": {"condition": "RetriesExhausted", "approximateInvokeCount": attempts,
                                   "functionArn": self.stack.physical[function].arn},
                "requestPayload": event, "responseContext": {"functionError": "Unhandled"},
                "responsePayload": {"errorMessage": invocation.error}}))
        return invocation

    def invoke(self, function: str, event: dict[str, Any], attempt: int = 1) -> Invocation:
        """One synchronous invocation of a function's real handler, with its template environment."""
        physical = self.stack.physical[function]
        log_config = self.stack.function_property(function, "LoggingConfig") or {}  # the stack's one log group
        context = LambdaContext(function_name=physical.name,
                                memory_limit_in_mb=int(self.stack.function_property(function, "MemorySize", 128)),
                                invoked_function_arn=physical.arn,
                                timeout_s=int(self.stack.function_property(function, "Timeout", 3)),
                                log_group_name=str(log_config.get("LogGroup") or f"/aws/lambda/{physical.name}"))
        env = self.stack.function_environment(function) | {
            "AWS_LAMBDA_FUNCTION_NAME": physical.name, "POWERTOOLS_LOG_LEVEL": self.log_level,
            "STAND_IN_NOTE": STAND_IN_NOTE,
        } | self.function_env
        invocation = Invocation(function, event, attempt, at=self.clock.now())
        before = self._object_versions()
        started = time.perf_counter()
        # Powertools reads its settings when the module is imported, so import inside the environment too;
        # what handlers print (EMF metrics) is kept with the invocation rather than mixed into the output
        with _environment(env), contextlib.redirect_stdout(io.StringIO()) as printed:
            module, handler_name = self._handler(function)
            self.faults.depth += 1
            self.iam.current.append(function)
            try:
                invocation.result = getattr(module, handler_name)(json.loads(json.dumps(event)), context)
            except LambdaDied as death:  # as Lambda reports a runtime that exited or timed out; then retried
                invocation.error = f"Runtime.ExitError: {death}"
                invocation.result = None
            except Exception as exc:  # noqa: BLE001 - reported like Lambda does, then retried
                invocation.error = f"{type(exc).__name__}: {exc}"
                invocation.result = traceback.format_exc()
            finally:
                self.faults.depth -= 1
                self.iam.current.pop()
        invocation.output = printed.getvalue()
        invocation.seconds = time.perf_counter() - started
        self.invocations.append(invocation)
        self._announce_new_objects(before)
        return invocation

    @functools.cached_property
    def _eventbridge_buckets(self) -> list[str]:
        """Buckets whose template enables S3 → EventBridge notifications (read once)."""
        names = []
        for lid, res in self.stack.of_type("AWS::S3::Bucket").items():
            props = self.stack.resolve(res.get("Properties") or {})
            config = (props.get("NotificationConfiguration") or {}).get("EventBridgeConfiguration") or {}
            if config.get("EventBridgeEnabled") in (True, "true", "True"):
                names.append(self.stack.physical[lid].name)
        return names

    def _object_versions(self) -> dict[tuple[str, str, str], tuple[int, str]]:
        s3 = self.client("s3")
        seen = {}
        for bucket in self._eventbridge_buckets:
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
                for v in page.get("Versions", []):
                    seen[(bucket, v["Key"], v.get("VersionId") or "null")] = (v["Size"], v["ETag"].strip('"'))
        return seen

    def _announce_new_objects(self, before: dict[tuple[str, str, str], tuple[int, str]]) -> None:
        """Objects a handler wrote raise "Object Created" events too, as they would in AWS."""
        for (bucket, key, version), (size, etag) in self._object_versions().items():
            if (bucket, key, version) not in before:
                self.put_event(self.object_created_event(bucket, key, size, etag, version))

    def _handler(self, function: str) -> tuple[ModuleType, str]:
        code_uri = self.stack.function_property(function, "CodeUri")
        handler = self.stack.function_property(function, "Handler")
        module_name, handler_name = handler.rsplit(".", 1)
        if function not in self._modules:
            path = self.stack.root / code_uri / f"{module_name.replace('.', '/')}.py"
            spec = importlib.util.spec_from_file_location(f"lambda_{function}", path)
            if spec is None or spec.loader is None:
                raise FileNotFoundError(f"{function}: handler module {path} not found")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            self._modules[function] = module
        return self._modules[function], handler_name

    # -- IAM ---------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def harness_calls(self) -> Iterator[None]:
        """Calls made inside this block, even through the code's own clients, are the harness's: not checked."""
        self.iam.current.append(iam.HARNESS)
        try:
            yield
        finally:
            self.iam.current.pop()

    def iam_calls(self, function: str | None = None) -> list[iam.IamCall]:
        """Every authorization a handler's calls needed: function, action, resource, allowed, why."""
        return [c for c in self.iam.calls if function is None or c.function == function]

    def iam_denials(self) -> list[iam.IamCall]:
        """Calls the function's policies did not allow (or that iam.py cannot map: those are denied too)."""
        return self.iam.denials()

    def iam_unused_grants(self, functions: list[str] | None = None) -> dict[str, list[iam.Grant]]:
        """Per function: actions its own policies grant that none of its recorded calls used."""
        return self.iam.unused_grants(functions or list(self.stack.of_type("AWS::Serverless::Function")))

    def _iam_environment(self) -> iam.Environment:
        stack = self.stack
        tables, buckets, topics = {}, {}, {}
        for lid, res in stack.of_type("AWS::DynamoDB::Table").items():
            schema = stack.resolve(res["Properties"]).get("KeySchema") or []
            tables[stack.physical[lid].name] = next((k["AttributeName"] for k in schema if k["KeyType"] == "HASH"),
                                                    None)
        for lid, res in stack.of_type("AWS::S3::Bucket").items():
            rules = ((stack.resolve(res.get("Properties") or {}).get("BucketEncryption") or {})
                     .get("ServerSideEncryptionConfiguration") or [])
            for rule in rules:
                default = rule.get("ServerSideEncryptionByDefault") or {}
                if default.get("SSEAlgorithm") in ("aws:kms", "aws:kms:dsse"):
                    buckets[stack.physical[lid].name] = default.get("KMSMasterKeyID") or "alias/aws/s3"
        for lid, res in stack.of_type("AWS::SNS::Topic").items():
            key = stack.resolve(res.get("Properties") or {}).get("KmsMasterKeyId")
            if key:
                topics[stack.physical[lid].arn] = key
        return iam.Environment(REGION, ACCOUNT_ID, table_hash_key=tables.get, bucket_kms_key=buckets.get,
                               topic_kms_key=topics.get, resource_tags=self._resource_tags,
                               object_exists=self._object_exists)

    @staticmethod
    def _object_exists(bucket: str, key: str) -> bool:
        from moto.s3.models import s3_backends

        found = s3_backends[ACCOUNT_ID]["aws"].buckets.get(bucket)
        return found is not None and key in found.keys

    def _resource_tags(self, arn: str) -> dict[str, str] | None:
        """The tags of a Bedrock resource (for aws:ResourceTag conditions); None when there is no such resource."""
        if self._bedrock is None:
            return None
        tail = arn.rsplit("/", 1)[-1]
        if ":model-customization-job/" in arn:
            for name, job in self.bedrock.jobs().items():
                if arn == job.job_arn or tail == name:
                    return {t["key"]: t["value"] for t in self.bedrock._backend.list_tags_for_resource(job.job_arn)}
            return None
        if ":provisioned-model/" in arn or ":custom-model-deployment/" in arn:
            for resource in self.bedrock.serving.resources.values():
                if arn == resource.arn or tail == resource.name:
                    return {t["key"]: t["value"] for t in resource.tags}
            return None
        if ":custom-model/" in arn:
            try:
                return {t["key"]: t["value"] for t in self.bedrock._backend.list_tags_for_resource(arn)}
            except Exception:  # noqa: BLE001 - no such model
                return None
        return None

    # -- inspection -------------------------------------------------------------------------------------

    def serve_api(self, port: int = 0, *, require_sigv4: bool = False, api_key: str | None = None,
                  apis: list[str] | None = None, auto_run: bool = False,
                  lock: threading.RLock | None = None) -> Any:
        """The template's REST APIs on localhost (a started `api_server.LocalApi`; `.url`, `.stop()`), each
        request answered by its function's real handler in this emulated world. Presigned S3 URLs in answers
        point at the same server, whose /_s3/ route reads objects and takes uploads as S3 would (an upload
        announces itself, so it starts a run). `auto_run`: deliver the events a request or an upload caused at
        once (`make serve`); otherwise the caller calls run(). `lock`: held while a request changes the world (to
        share with whatever else moves it)."""
        from local_emulation.api_server import LocalApi, LocalS3Front

        lock = lock or threading.RLock()

        def invoke(function: str, event: dict[str, Any]) -> dict[str, Any]:
            with lock:
                invocation = self.invoke(function, event)
                if auto_run:
                    self.run()
            if invocation.error is not None:  # what API Gateway answers for a function that failed
                return {"statusCode": 502, "body": json.dumps({"message": "Internal server error"})}
            return invocation.result

        def upload(bucket: str, key: str, body: bytes) -> None:
            with lock:
                self.upload(key, body, bucket)
                if auto_run:
                    self.run()

        s3 = LocalS3Front(lambda: self.client("s3"), [self.data_bucket], upload, lock=lock,
                          writable_prefixes=(str(self.stack.parameters.get("IncomingPrefix", "incoming/")),))
        return LocalApi(self.stack, port=port, api_key=api_key, invoke=invoke, apis=apis,
                        require_sigv4=require_sigv4, s3=s3).start()

    def events_of(self, detail_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("detail-type") == detail_type]

    def ledger(self) -> list[dict[str, Any]]:
        """Every run record, as JSON, ordered by run id (an item that is no run record: its id and the error)."""
        from pydantic import ValidationError

        from ft_pipeline.adapters.ledger_table import CONTENT_PREFIX, KEY, LedgerTable

        table = LedgerTable(self.resource_name("LedgerTable"))
        items = self.client("dynamodb").scan(TableName=table.table_name)["Items"]
        records = []
        with self.harness_calls():  # LedgerTable's client is the code's: these reads are the harness's
            for run_id in sorted(item[KEY]["S"] for item in items if not item[KEY]["S"].startswith(CONTENT_PREFIX)):
                try:
                    record = table.get(run_id)
                except ValidationError as exc:
                    records.append({"run_id": run_id, "unreadable": str(exc)})
                    continue
                if record is not None:
                    records.append(record.model_dump(mode="json", exclude_none=True))
        return records

    def dead_letters(self, queue_logical_id: str = "PipelineDeadLetterQueue") -> list[dict[str, Any]]:
        """What reached the stack's dead-letter queue (Lambda on-failure records), oldest first."""
        sqs = self.client("sqs")
        url = sqs.get_queue_url(QueueName=self.resource_name(queue_logical_id))["QueueUrl"]
        return [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
                .get("Messages", [])]

    def read_object(self, key: str, bucket: str | None = None) -> bytes:
        return self.client("s3").get_object(Bucket=bucket or self.data_bucket, Key=key)["Body"].read()

    def list_keys(self, prefix: str = "", bucket: str | None = None) -> list[str]:
        paginator = self.client("s3").get_paginator("list_objects_v2")
        return [o["Key"] for page in paginator.paginate(Bucket=bucket or self.data_bucket, Prefix=prefix)
                for o in page.get("Contents", [])]

    def export_bucket(self, target: Path, bucket: str | None = None) -> list[Path]:
        written = []
        for key in self.list_keys(bucket=bucket):
            path = target / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(self.read_object(key, bucket))
            written.append(path)
        return written
