"""Bedrock Custom Model Import jobs: create (idempotently) and describe (the BedrockImports port).

Fields from botocore's service model (bedrock 2023-04-20): CreateModelImportJob takes `jobName`,
`importedModelName`, `roleArn`, `modelDataSource.s3DataSource.s3Uri`, `clientRequestToken`, tags, `vpcConfig`,
`importedModelKmsKeyId`; GetModelImportJob takes the job's name or ARN and says `status` (InProgress | Completed |
Failed), `importedModelArn`, `failureMessage`, `endTime`.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ft_pipeline.adapters.bedrock_customization import _error, _iso, create_or_find
from ft_pipeline.adapters.clients import client
from ft_pipeline.ports import ImportJobSnapshot


class BedrockImportApi:
    def create_import_job(self, request: dict[str, Any]) -> str:
        def find() -> str | None:
            existing = self.get_import_job(request["jobName"])
            return existing.job_arn if existing else None

        return create_or_find(lambda: client("bedrock").create_model_import_job(**request)["jobArn"], find)

    def get_import_job(self, job_name: str) -> ImportJobSnapshot | None:
        try:
            job = client("bedrock").get_model_import_job(jobIdentifier=job_name)
        except ClientError as exc:
            if _error(exc)[0] == "ResourceNotFoundException":
                return None
            raise
        return ImportJobSnapshot(
            job_arn=job["jobArn"], job_name=job["jobName"], status=job["status"],
            imported_model_arn=job.get("importedModelArn"), imported_model_name=job.get("importedModelName"),
            failure_message=job.get("failureMessage") if job["status"] == "Failed" else None,
            creation_time=_iso(job.get("creationTime")), end_time=_iso(job.get("endTime")))
