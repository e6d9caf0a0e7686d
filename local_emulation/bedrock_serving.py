"""Provisioned throughputs and custom model deployments, emulated where moto has none (its methods raise
NotImplementedError). The operations are added to moto's Bedrock responder, so boto3 calls them over
botocore's real request and response shapes (bedrock 2023-04-20), errors included.

- Creating → InService (PT) / Active (deployment) once `ready_after[mode]` of the harness clock has passed,
  or Failed when a test asks (`fail_next(mode, message)`); Get computes the status from the clock.
- At most `pt_limit` (2) no-commitment PTs per account: ServiceQuotaExceededException beyond.
- A name already taken: the existing resource's ARN for the same client token, ConflictException otherwise.
- Delete removes it at once. Every resource ever created is kept in `history` with its created/deleted
  times, so `billed_hours()` and `inventory()` show what was paid for and what is still alive.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote

from moto.bedrock.exceptions import BedrockClientError, ResourceNotFoundException, ValidationException
from moto.bedrock.models import bedrock_backends
from moto.bedrock.responses import BedrockResponse

from ft_pipeline.clock import clock, iso
from local_emulation.moto_patch import ResponderPatch
from local_emulation.template import ACCOUNT_ID, REGION


class ServiceQuotaExceededException(BedrockClientError):
    def __init__(self, msg: str):
        super().__init__("ServiceQuotaExceededException", msg)


class ConflictException(BedrockClientError):
    def __init__(self, msg: str):
        super().__init__("ConflictException", msg)


@dataclass
class ServingResource:
    mode: str  # provisioned | on-demand
    name: str
    arn: str
    model_arn: str
    token: str | None
    model_units: int
    tags: list[dict[str, str]]
    created_at: datetime
    fail_with: str | None = None
    deleted_at: datetime | None = None
    polls: int = field(default=0)

    def status(self, ready_after: timedelta) -> str:
        if self.fail_with is not None:
            return "Failed"
        if clock().now() - self.created_at < ready_after:
            return "Creating"
        return "InService" if self.mode == "provisioned" else "Active"


_active: ServingEmulator | None = None


class ServingEmulator:
    def __init__(self) -> None:
        self.resources: dict[str, ServingResource] = {}  # alive, by name
        self.history: list[ServingResource] = []  # every one ever created
        self.ready_after = {"provisioned": timedelta(minutes=20), "on-demand": timedelta(minutes=10)}
        self.pt_limit = 2
        self._fail_next: dict[str, str] = {}
        self._patch = ResponderPatch(BedrockResponse, _RESPONDERS)

    # -- install into moto ---------------------------------------------------------------------------------

    def install(self) -> None:
        global _active
        _active = self
        self._patch.install()

    def uninstall(self) -> None:
        global _active
        self._patch.uninstall()
        _active = None

    # -- what tests and the demo drive -----------------------------------------------------------------------

    def fail_next(self, mode: str, message: str = "Insufficient capacity for the requested model.") -> None:
        """The next resource of this mode that is created ends Failed."""
        self._fail_next[mode] = message

    def fail(self, name: str, message: str = "Internal failure.") -> None:
        self.resources[name].fail_with = message

    def alive(self) -> list[ServingResource]:
        return list(self.resources.values())

    def billed_hours(self, until: datetime | None = None) -> float:
        """Provisioned-throughput hours this account paid for (model units × hours, alive or deleted)."""
        end = until or clock().now()
        return round(sum(r.model_units * ((r.deleted_at or end) - r.created_at).total_seconds() / 3600
                         for r in self.history if r.mode == "provisioned"), 4)

    def inventory(self) -> dict[str, list[dict[str, Any]]]:
        """The emulated account's paid resources, with their status now: what would still bill."""
        def describe(r: ServingResource) -> dict[str, Any]:
            return {"name": r.name, "arn": r.arn, "status": "Deleted" if r.deleted_at else self._status(r),
                    "created": iso(r.created_at), "deleted": iso(r.deleted_at) if r.deleted_at else None,
                    "tags": {t["key"]: t["value"] for t in r.tags}}

        backend = bedrock_backends[ACCOUNT_ID][REGION]
        return {
            "provisioned_throughputs": [describe(r) for r in self.history if r.mode == "provisioned"],
            "custom_model_deployments": [describe(r) for r in self.history if r.mode == "on-demand"],
            "custom_models": [{"name": name, "status": "Active",
                               "note": "billed monthly for storage until deleted"}
                              for name in backend.custom_models],
        }

    # -- the API -----------------------------------------------------------------------------------------------

    def _status(self, resource: ServingResource) -> str:
        return resource.status(self.ready_after[resource.mode])

    def create(self, mode: str, params: dict[str, Any]) -> str:
        name = params["provisionedModelName" if mode == "provisioned" else "modelDeploymentName"]
        token = params.get("clientRequestToken")
        existing = self.resources.get(name)
        if existing is not None:
            if token and existing.token == token:
                return existing.arn  # an idempotent retry
            raise ConflictException(f"A resource named {name} already exists")
        if mode == "provisioned":
            if "commitmentDuration" not in params and \
                    sum(1 for r in self.resources.values() if r.mode == "provisioned") >= self.pt_limit:
                raise ServiceQuotaExceededException(
                    f"You have reached the limit of {self.pt_limit} no-commitment provisioned throughputs.")
            model_arn, units = params["modelId"], int(params["modelUnits"])
        else:
            model_arn, units = params["modelArn"], 1
        if ":custom-model/" not in model_arn:
            raise ValidationException(f"{model_arn} is not a custom model")
        suffix = hashlib.sha1(f"{name}{clock().now().isoformat()}".encode()).hexdigest()[:12]
        kind = "provisioned-model" if mode == "provisioned" else "custom-model-deployment"
        resource = ServingResource(mode, name, f"arn:aws:bedrock:{REGION}:{ACCOUNT_ID}:{kind}/{suffix}", model_arn,
                                   token, units, params.get("tags") or [], clock().now(),
                                   fail_with=self._fail_next.pop(mode, None))
        self.resources[name] = resource
        self.history.append(resource)
        return resource.arn

    def find(self, mode: str, identifier: str) -> ServingResource:
        identifier = unquote(identifier)
        for resource in self.resources.values():
            if resource.mode == mode and identifier in (resource.name, resource.arn):
                return resource
        raise ResourceNotFoundException(f"{identifier} not found")

    def delete(self, mode: str, identifier: str) -> None:
        resource = self.find(mode, identifier)
        resource.deleted_at = clock().now()
        del self.resources[resource.name]

    def describe_pt(self, r: ServingResource) -> dict[str, Any]:
        status = self._status(r)
        body = {"provisionedModelName": r.name, "provisionedModelArn": r.arn, "modelArn": r.model_arn,
                "desiredModelArn": r.model_arn, "foundationModelArn": f"arn:aws:bedrock:{REGION}::foundation-model/"
                                                                     "amazon.nova-micro-v1:0",
                "modelUnits": r.model_units, "desiredModelUnits": r.model_units, "status": status,
                "creationTime": iso(r.created_at), "lastModifiedTime": iso(r.created_at)}
        if status == "Failed":
            body["failureMessage"] = r.fail_with
        return body

    def describe_deployment(self, r: ServingResource, summary: bool = False) -> dict[str, Any]:
        body = {"customModelDeploymentArn": r.arn, "modelArn": r.model_arn, "createdAt": iso(r.created_at),
                "status": self._status(r), "lastUpdatedAt": iso(r.created_at)}
        body["customModelDeploymentName" if summary else "modelDeploymentName"] = r.name
        if r.fail_with is not None:
            body["failureMessage"] = r.fail_with
        return body


def _emulator() -> ServingEmulator:
    if _active is None:
        raise RuntimeError("the serving emulator is not installed")
    return _active


def _name_filter(self: BedrockResponse) -> str:
    return (self.querystring.get("nameContains") or [""])[0]


def _create_pt(self: BedrockResponse) -> str:
    return json.dumps({"provisionedModelArn": _emulator().create("provisioned", json.loads(self.body))})


def _get_pt(self: BedrockResponse) -> str:
    emulator = _emulator()
    return json.dumps(emulator.describe_pt(emulator.find("provisioned", self.path.split("/")[-1])))


def _list_pts(self: BedrockResponse) -> str:
    emulator, contains = _emulator(), _name_filter(self)
    summaries = [{k: v for k, v in emulator.describe_pt(r).items() if k != "failureMessage"}
                 for r in emulator.alive() if r.mode == "provisioned" and contains in r.name]
    return json.dumps({"provisionedModelSummaries": summaries})


def _delete_pt(self: BedrockResponse) -> str:
    _emulator().delete("provisioned", self.path.split("/")[-1])
    return "{}"


def _create_deployment(self: BedrockResponse) -> str:
    return json.dumps({"customModelDeploymentArn": _emulator().create("on-demand", json.loads(self.body))})


def _get_deployment(self: BedrockResponse) -> str:
    emulator = _emulator()
    return json.dumps(emulator.describe_deployment(emulator.find("on-demand", self.path.split("/")[-1])))


def _list_deployments(self: BedrockResponse) -> str:
    emulator, contains = _emulator(), _name_filter(self)
    return json.dumps({"modelDeploymentSummaries": [emulator.describe_deployment(r, summary=True)
                                                    for r in emulator.alive()
                                                    if r.mode == "on-demand" and contains in r.name]})


def _delete_deployment(self: BedrockResponse) -> str:
    _emulator().delete("on-demand", self.path.split("/")[-1])
    return "{}"


def _list_tags(self: BedrockResponse) -> str:
    """ListTagsForResource: the emulated resources' tags; moto's own answer for everything else."""
    arn = json.loads(self.body).get("resourceARN", "")
    for resource in _emulator().history:
        if resource.arn == arn and resource.deleted_at is None:
            return json.dumps({"tags": resource.tags})
    return _emulator()._patch.originals["list_tags_for_resource"](self)


_RESPONDERS = {
    "create_provisioned_model_throughput": _create_pt, "get_provisioned_model_throughput": _get_pt,
    "list_provisioned_model_throughputs": _list_pts, "delete_provisioned_model_throughput": _delete_pt,
    "create_custom_model_deployment": _create_deployment, "get_custom_model_deployment": _get_deployment,
    "list_custom_model_deployments": _list_deployments, "delete_custom_model_deployment": _delete_deployment,
    "list_tags_for_resource": _list_tags,
}
