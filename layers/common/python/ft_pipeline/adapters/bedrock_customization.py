"""Bedrock model customization jobs: create (idempotently), describe, stop (the BedrockJobs port)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from ft_pipeline.adapters.clients import client
from ft_pipeline.ports import JobSnapshot, PermanentJobError

# errors that retrying the same request cannot fix (botocore service model: bedrock 2023-04-20)
PERMANENT_ERRORS = frozenset({
    "ValidationException", "ServiceQuotaExceededException", "AccessDeniedException",
    "ResourceNotFoundException", "TooManyTagsException",
})
# the job name is taken: a redelivered request after the first one succeeded (moto says ResourceInUse)
ALREADY_EXISTS = frozenset({"ConflictException", "ResourceInUseException"})


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def _error(exc: ClientError) -> tuple[str, str]:
    err = exc.response.get("Error", {})
    return err.get("Code", "Unknown"), err.get("Message", str(exc))


def create_or_find(create: Callable[[], str], find: Callable[[], str | None]) -> str:
    """A create call's ARN; if its name already exists (our own earlier attempt, whose answer was lost), the
    existing one's. Refusals a retry cannot fix raise PermanentJobError; throttling and internal errors raise as
    they are (the caller's retry policy applies)."""
    try:
        return create()
    except ClientError as exc:
        code, message = _error(exc)
        if code in ALREADY_EXISTS:
            existing = find()
            if existing is None:
                raise  # the name is taken, yet nothing has it: nothing a retry of ours can fix quietly
            return existing
        if code in PERMANENT_ERRORS:
            raise PermanentJobError(code, message) from None
        raise


class BedrockCustomization:
    def create_job(self, request: dict[str, Any]) -> str:
        """Start the job and return its ARN; if the name already exists (our own earlier attempt), its ARN."""
        def find() -> str | None:
            existing = self.get_job(request["jobName"])
            return existing.job_arn if existing else None

        return create_or_find(lambda: client("bedrock").create_model_customization_job(**request)["jobArn"], find)

    def get_job(self, job_name: str) -> JobSnapshot | None:
        try:
            job = client("bedrock").get_model_customization_job(jobIdentifier=job_name)
        except ClientError as exc:
            if _error(exc)[0] == "ResourceNotFoundException":
                return None
            raise
        metrics = job.get("trainingMetrics") or {}
        return JobSnapshot(
            job_arn=job["jobArn"], job_name=job["jobName"], status=job["status"],
            failure_message=job.get("failureMessage") if job["status"] in ("Failed", "Stopped") else None,
            output_model_arn=job.get("outputModelArn"), output_model_name=job.get("outputModelName"),
            output_uri=(job.get("outputDataConfig") or {}).get("s3Uri"),
            training_loss=metrics.get("trainingLoss"),
            validation_losses=[v["validationLoss"] for v in job.get("validationMetrics") or []
                               if v.get("validationLoss") is not None],
            creation_time=_iso(job.get("creationTime")), end_time=_iso(job.get("endTime")),
        )

    def stop_job(self, job_name: str) -> bool:
        try:
            client("bedrock").stop_model_customization_job(jobIdentifier=job_name)
            return True
        except ClientError as exc:
            code = _error(exc)[0]
            if code == "ResourceNotFoundException":
                return False  # not created (yet)
            if code == "AccessDeniedException" and self.get_job(job_name) is None:
                # a job that does not exist has no pipeline tag for the stop's condition to match
                return False
            if code == "ValidationException":  # refused: ask the job itself rather than parse the message
                job = self.get_job(job_name)
                if job is None or job.status != "InProgress":
                    return False  # already stopping or ended: nothing to stop
            raise
