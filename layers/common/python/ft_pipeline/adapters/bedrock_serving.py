"""Provisioned throughputs (no commitment) and on-demand custom model deployments: the BedrockServing port.

Shapes and error codes from botocore's service model (bedrock 2023-04-20): CreateProvisionedModelThroughput
(`provisionedModelName`, `modelId`, `modelUnits`, `clientRequestToken`, `tags`; no `commitmentDuration`, so no
commitment), CreateCustomModelDeployment (`modelDeploymentName`, `modelArn`, `clientRequestToken`, `tags`); Get
and Delete take the name or the ARN; List filters by `nameContains`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from ft_pipeline.adapters.clients import client
from ft_pipeline.ports import PermanentJobError, ServingQuotaExceeded, ServingSnapshot

PERMANENT = frozenset({"ValidationException", "AccessDeniedException", "ResourceNotFoundException",
                       "TooManyTagsException"})
_LIVE_PT = ("Creating", "InService", "Updating")


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "Unknown")


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def _pt(item: dict[str, Any]) -> ServingSnapshot:
    return ServingSnapshot(mode="provisioned", name=item["provisionedModelName"], arn=item["provisionedModelArn"],
                           status=item["status"], model_arn=item.get("modelArn"),
                           failure_message=item.get("failureMessage"), created_at=_iso(item.get("creationTime")),
                           committed=bool(item.get("commitmentDuration")))


def _deployment(item: dict[str, Any]) -> ServingSnapshot:
    name = item.get("modelDeploymentName") or item.get("customModelDeploymentName") or ""
    return ServingSnapshot(mode="on-demand", name=name, arn=item["customModelDeploymentArn"], status=item["status"],
                           model_arn=item.get("modelArn"), failure_message=item.get("failureMessage"),
                           created_at=_iso(item.get("createdAt")))


class BedrockServingApi:
    def create(self, mode: str, name: str, model_arn: str, model_units: int, token: str,
               tags: dict[str, str]) -> str:
        tag_list = [{"key": k, "value": v} for k, v in tags.items()]
        try:
            if mode == "provisioned":
                return client("bedrock").create_provisioned_model_throughput(
                    provisionedModelName=name, modelId=model_arn, modelUnits=model_units, clientRequestToken=token,
                    tags=tag_list)["provisionedModelArn"]
            return client("bedrock").create_custom_model_deployment(
                modelDeploymentName=name, modelArn=model_arn, clientRequestToken=token, tags=tag_list,
                description="fine-tuning pipeline: evaluation deployment")["customModelDeploymentArn"]
        except ClientError as exc:
            code = _code(exc)
            if code == "ServiceQuotaExceededException":
                raise ServingQuotaExceeded(exc.response.get("Error", {}).get("Message", code)) from None
            # the name is the run's own: whatever error a name clash is reported as, an existing resource of
            # that name is ours, from an earlier attempt (the model declares no ConflictException for creates)
            if code not in ("ThrottlingException", "InternalServerException"):
                existing = self.get(mode, name)
                if existing is not None:
                    return existing.arn
            if code in PERMANENT:
                raise PermanentJobError(code, exc.response.get("Error", {}).get("Message", "")) from None
            raise

    def get(self, mode: str, name: str) -> ServingSnapshot | None:
        try:
            if mode == "provisioned":
                return _pt(client("bedrock").get_provisioned_model_throughput(provisionedModelId=name))
            return _deployment(client("bedrock").get_custom_model_deployment(customModelDeploymentIdentifier=name))
        except ClientError as exc:
            if _code(exc) == "ResourceNotFoundException":
                return None
            raise

    def delete(self, mode: str, name: str) -> bool:
        try:
            if mode == "provisioned":
                client("bedrock").delete_provisioned_model_throughput(provisionedModelId=name)
            else:
                client("bedrock").delete_custom_model_deployment(customModelDeploymentIdentifier=name)
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise  # ConflictException (still creating): the sweeper asks again next period
        return self.get(mode, name) is None

    def list_ours(self, name_prefix: str) -> list[ServingSnapshot]:
        found: list[ServingSnapshot] = []
        for operation, key, parse in (("list_provisioned_model_throughputs", "provisionedModelSummaries", _pt),
                                      ("list_custom_model_deployments", "modelDeploymentSummaries", _deployment)):
            kwargs: dict[str, Any] = {"nameContains": name_prefix.rstrip("-"), "maxResults": 100}
            while True:
                page = getattr(client("bedrock"), operation)(**kwargs)
                found += [s for s in map(parse, page.get(key, [])) if s.name.startswith(name_prefix)]
                if not page.get("nextToken"):
                    break
                kwargs["nextToken"] = page["nextToken"]
        return found

    def tags(self, arn: str) -> dict[str, str]:
        answer = client("bedrock").list_tags_for_resource(resourceARN=arn)
        return {t["key"]: t["value"] for t in answer.get("tags", [])}

    def no_commitment_pts_in_use(self) -> int:
        count, kwargs = 0, {"maxResults": 100}
        while True:
            page = client("bedrock").list_provisioned_model_throughputs(**kwargs)
            count += sum(1 for p in page.get("provisionedModelSummaries", [])
                         if not p.get("commitmentDuration") and p.get("status") in _LIVE_PT)
            if not page.get("nextToken"):
                return count
            kwargs["nextToken"] = page["nextToken"]

    def delete_custom_model(self, model_arn: str) -> bool:
        try:
            client("bedrock").delete_custom_model(modelIdentifier=model_arn)
            return True
        except ClientError as exc:
            if _code(exc) == "ResourceNotFoundException":
                return False
            raise
