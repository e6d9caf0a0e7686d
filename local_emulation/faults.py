"""Faults injected at the boto layer, through botocore's event hooks: the code under test is never edited.

    stack.faults.fail("eventbridge.PutEvents", when=lambda p: p["Entries"][0]["DetailType"] == "ModelTrained")
    stack.faults.fail("bedrock.CreateModelCustomizationJob", error="ThrottlingException", times=3)
    stack.faults.die("dynamodb.UpdateItem", after=True)   # the write lands, then the Lambda dies
    stack.faults.call("bedrock.CreateModelCustomizationJob", stop_the_run, after=True)  # something happens then

`call` runs an action at that moment (another handler, say: a race), then lets the call go on. `fail` makes the
call raise as if the network (default: EndpointConnectionError) or the service (an AWS
error code) failed, after the SDK's own retries: the hook runs before botocore's retry loop. `die` ends the
Lambda invocation there (out of memory, timeout): no `except` block of the handler runs, the harness
reports the invocation as failed and Lambda's retries apply. `after=True` lets the call reach AWS first, so
its side effect happens and its answer is lost. Faults apply only to calls made by handlers while the
harness invokes them, never to the harness's own calls (uploads, queue draining).

Operation names are botocore's: `<service id, hyphenated>.<Operation>` (eventbridge, dynamodb, bedrock, s3, sns).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import botocore.handlers
from botocore.exceptions import ClientError, EndpointConnectionError


class LambdaDied(BaseException):  # noqa: N818 - not an error the code under test may catch
    """The invocation ends here, as when Lambda kills it (timeout, out of memory): handlers cannot catch it."""


@dataclass
class Fault:
    target: str  # "<service>.<Operation>"
    kind: str  # "fail" | "die" | "call"
    error: str | None = None  # an AWS error code, or None for a network failure
    times: int | None = 1  # None: every matching call
    when: Callable[[dict[str, Any]], bool] | None = None
    after: bool = False
    action: Callable[[dict[str, Any]], Any] | None = None
    hits: int = 0

    def matches(self, target: str, params: dict[str, Any]) -> bool:
        if target != self.target or (self.times is not None and self.hits >= self.times):
            return False
        return self.when is None or bool(self.when(params))

    def trigger(self, operation: str, params: dict[str, Any]) -> None:
        self.hits += 1
        if self.kind == "call":
            assert self.action is not None
            self.action(params)
            return
        if self.kind == "die":
            raise LambdaDied(f"invocation died at {self.target}{' (after the call)' if self.after else ''}")
        if self.error is None:
            raise EndpointConnectionError(endpoint_url=f"https://{self.target.split('.')[0]}.amazonaws.com")
        raise ClientError({"Error": {"Code": self.error, "Message": f"injected {self.error}"},
                           "ResponseMetadata": {"HTTPStatusCode": 400}}, operation)


class FaultInjector:
    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.depth = 0  # handlers the harness is running now (an action may invoke one inside another)

    def fail(self, target: str, error: str | None = None, *, times: int | None = 1,
             when: Callable[[dict[str, Any]], bool] | None = None, after: bool = False) -> Fault:
        return self._add(Fault(target, "fail", error, times, when, after))

    def die(self, target: str, *, times: int | None = 1, when: Callable[[dict[str, Any]], bool] | None = None,
            after: bool = False) -> Fault:
        return self._add(Fault(target, "die", None, times, when, after))

    def call(self, target: str, action: Callable[[dict[str, Any]], Any], *, times: int | None = 1,
             when: Callable[[dict[str, Any]], bool] | None = None, after: bool = False) -> Fault:
        return self._add(Fault(target, "call", None, times, when, after, action))

    def clear(self) -> None:
        self.faults.clear()

    def _add(self, fault: Fault) -> Fault:
        if "." not in fault.target:
            raise ValueError("a fault's target is '<service>.<Operation>', e.g. 'eventbridge.PutEvents'")
        self.faults.append(fault)
        return fault

    # botocore calls these for every API call of every client created after `install()`

    def before(self, event_name: str, params: dict[str, Any] | None = None, **_: Any) -> None:
        self._maybe(event_name, params or {}, after=False)

    def after_call(self, event_name: str, **kwargs: Any) -> None:
        context = kwargs.get("context") or {}
        self._maybe(event_name, context.get("fault_params") or {}, after=True)

    def remember(self, event_name: str, params: dict[str, Any] | None = None, context: Any = None,
                 **_: Any) -> None:
        if isinstance(context, dict):  # after-call does not see the parameters: keep them for it
            context["fault_params"] = params or {}

    def _maybe(self, event_name: str, params: dict[str, Any], after: bool) -> None:
        if self.depth == 0:
            return
        _, service, operation = event_name.split(".", 2)
        target = f"{service}.{operation}"
        for fault in list(self.faults):
            if fault.after == after and fault.matches(target, params):
                fault.trigger(operation, params)


_active: FaultInjector | None = None
_installed = False


def install(injector: FaultInjector | None) -> None:
    """Route botocore's hooks to `injector` (None: to nothing). Registered once per process, before the
    clients of the code under test are created, so that every client created afterwards carries them."""
    global _active, _installed
    _active = injector
    if not _installed:
        botocore.handlers.BUILTIN_HANDLERS.extend([
            ("before-parameter-build", _dispatch("remember")),
            ("before-parameter-build", _dispatch("before")),
            ("after-call", _dispatch("after_call")),
        ])
        _installed = True


def _dispatch(method: str) -> Callable[..., None]:
    def hook(event_name: str, **kwargs: Any) -> None:
        if _active is not None:
            getattr(_active, method)(event_name, **kwargs)

    hook.__name__ = f"fault_{method}"
    return hook
