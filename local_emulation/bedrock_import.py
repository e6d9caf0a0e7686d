"""Bedrock Custom Model Import, emulated where moto has none. The operations are added to moto's Bedrock responder,
so boto3 calls them over botocore's real request and response shapes (bedrock 2023-04-20), errors included.

- CreateModelImportJob: InProgress at once; the same name again is the same job for the same client token, a
  ConflictException otherwise. An imported model name already taken is a ConflictException too.
- The job reads the folder as Bedrock does, when it finishes (`ready_after` of the harness clock after its
  creation; Get computes the status from the clock): no config.json or no safetensors there then is a Failed job
  with Bedrock's kind of message; `fail_next(message)` fails the next job whatever its folder holds.
- A completed job's model is a copy of the folder; Converse on its ARN runs that model for real
  (`ml.model_import.generate`), so an evaluation of an imported model measures the model the user uploaded.
- No StopModelImportJob exists in AWS, and none here.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from moto.bedrock.exceptions import ResourceNotFoundException, ValidationException
from moto.bedrock.responses import BedrockResponse

from ft_pipeline.clock import clock, iso
from local_emulation.bedrock_serving import ConflictException
from local_emulation.moto_patch import ResponderPatch
from local_emulation.template import ACCOUNT_ID, REGION

_active: ImportEmulator | None = None


@dataclass
class ImportJob:
    name: str
    arn: str
    model_name: str
    model_arn: str
    role_arn: str
    s3_uri: str
    token: str | None
    tags: list[dict[str, str]]
    created_at: datetime
    fail_with: str | None = None
    ended_at: datetime | None = None
    status: str = "InProgress"
    folder: Path | None = None  # the imported copy, once Completed
    polls: int = field(default=0)


class ImportEmulator:
    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline
        self.jobs: dict[str, ImportJob] = {}  # by name
        self.models: dict[str, ImportJob] = {}  # imported model ARN -> its job (deleted models are removed)
        self.ready_after = timedelta(minutes=15)
        self._fail_next: str | None = None
        self._patch = ResponderPatch(BedrockResponse, _RESPONDERS)
        self._workdir: tempfile.TemporaryDirectory[str] | None = None

    # -- install into moto ---------------------------------------------------------------------------------

    def install(self) -> None:
        global _active
        _active = self
        self._patch.install()

    def uninstall(self) -> None:
        global _active
        self._patch.uninstall()
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None
        _active = None

    # -- what tests and the demo drive -----------------------------------------------------------------------

    def fail_next(self, message: str = "The model architecture is not supported.") -> None:
        """The next job created ends Failed with this message, whatever its folder holds."""
        self._fail_next = message

    def finish(self, name: str) -> ImportJob:
        """End the job now (Completed, or Failed as its folder or `fail_next` says), whatever the clock says."""
        job = self.jobs[name]
        job.created_at = min(job.created_at, clock().now() - self.ready_after)
        self._advance(job)
        return job

    # -- the API ---------------------------------------------------------------------------------------------------

    def create(self, params: dict[str, Any]) -> str:
        name, token = params["jobName"], params.get("clientRequestToken")
        existing = self.jobs.get(name)
        if existing is not None:
            if token and existing.token == token:
                return existing.arn  # an idempotent retry
            raise ConflictException(f"A model import job named {name} already exists")
        model_name = params["importedModelName"]
        if any(j.model_name == model_name and j.status != "Failed" for j in self.jobs.values()):
            raise ConflictException(f"An imported model named {model_name} already exists")
        s3_uri = params["modelDataSource"]["s3DataSource"]["s3Uri"]
        if not s3_uri.startswith("s3://"):
            raise ValidationException(f"{s3_uri} is not an S3 URI")
        digest = hashlib.sha1(f"{name}{clock().now().isoformat()}".encode()).hexdigest()
        job = ImportJob(name, f"arn:aws:bedrock:{REGION}:{ACCOUNT_ID}:model-import-job/{digest[:12]}", model_name,
                        f"arn:aws:bedrock:{REGION}:{ACCOUNT_ID}:imported-model/{digest[12:24]}", params["roleArn"],
                        s3_uri, token, (params.get("jobTags") or []), clock().now(), fail_with=self._fail_next)
        self._fail_next = None
        self.jobs[name] = job
        return job.arn

    def find(self, identifier: str) -> ImportJob:
        identifier = unquote(identifier)
        for job in self.jobs.values():
            if identifier in (job.name, job.arn):
                self._advance(job)
                return job
        raise ResourceNotFoundException(f"Model import job {identifier} not found")

    def find_model(self, identifier: str) -> ImportJob:
        identifier = unquote(identifier)
        for job in self.models.values():
            if identifier in (job.model_name, job.model_arn):
                return job
        raise ResourceNotFoundException(f"Imported model {identifier} not found")

    def _advance(self, job: ImportJob) -> None:
        if job.status != "InProgress" or clock().now() - job.created_at < self.ready_after:
            return
        job.ended_at = clock().now()
        problem = job.fail_with or self._read_folder(job)
        if problem:
            job.status, job.fail_with = "Failed", problem
            return
        job.status = "Completed"
        self.models[job.model_arn] = job

    def _read_folder(self, job: ImportJob) -> str | None:
        """Copy the folder as Bedrock reads it at import; what it lacks then fails the job."""
        bucket, _, prefix = job.s3_uri.removeprefix("s3://").partition("/")
        keys = self.pipeline.list_keys(prefix, bucket)
        names = [k[len(prefix):] for k in keys if not k.endswith("/")]
        if "config.json" not in names:
            return "Failed to import the model: config.json was not found in the S3 location."
        if not any(n.endswith(".safetensors") for n in names):
            return "Failed to import the model: no model weights in safetensors format were found."
        if self._workdir is None:
            self._workdir = tempfile.TemporaryDirectory(prefix="imported-models-")
        folder = Path(self._workdir.name) / job.name
        for name in names:
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.pipeline.read_object(prefix + name, bucket))
        job.folder = folder
        return None

    def delete_model(self, identifier: str) -> None:
        job = self.find_model(identifier)
        del self.models[job.model_arn]

    def converse(self, model_arn: str, system: str | None, prompt: str, max_tokens: int) -> tuple[str, int, int]:
        """Answer with the imported model itself (the folder the user uploaded, run locally)."""
        job = self.find_model(model_arn)
        from ml.model_import.generate import LoadedModel  # torch: only when an imported model is asked

        model = LoadedModel.load(job.folder)  # type: ignore[arg-type]
        return model.converse(system, [{"role": "user", "content": [{"text": prompt}]}], max_tokens)

    def describe(self, job: ImportJob, summary: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {"jobArn": job.arn, "jobName": job.name, "status": job.status,
                                "creationTime": iso(job.created_at), "lastModifiedTime": iso(job.ended_at or
                                                                                            job.created_at)}
        if job.ended_at:
            body["endTime"] = iso(job.ended_at)
        if job.status == "Completed":
            body |= {"importedModelArn": job.model_arn, "importedModelName": job.model_name}
        elif not summary:
            body["importedModelName"] = job.model_name
        if not summary:
            body |= {"roleArn": job.role_arn, "modelDataSource": {"s3DataSource": {"s3Uri": job.s3_uri}}}
            if job.status == "Failed":
                body["failureMessage"] = job.fail_with
        return body


def _emulator() -> ImportEmulator:
    if _active is None:
        raise RuntimeError("the import emulator is not installed")
    return _active


def _create(self: BedrockResponse) -> str:
    return json.dumps({"jobArn": _emulator().create(json.loads(self.body))})


def _get(self: BedrockResponse) -> str:
    emulator = _emulator()
    return json.dumps(emulator.describe(emulator.find(self.path.split("/")[-1])))


def _list(self: BedrockResponse) -> str:
    emulator = _emulator()
    contains = (self.querystring.get("nameContains") or [""])[0]
    jobs = [emulator.find(j.name) for j in list(emulator.jobs.values()) if contains in j.name]
    return json.dumps({"modelImportJobSummaries": [emulator.describe(j, summary=True) for j in jobs]})


def _get_model(self: BedrockResponse) -> str:
    job = _emulator().find_model(self.path.split("/")[-1])
    config = json.loads((job.folder / "config.json").read_text()) if job.folder else {}
    chat = job.folder is not None and "chat_template" in (job.folder / "tokenizer_config.json").read_text() \
        if job.folder and (job.folder / "tokenizer_config.json").exists() else False
    return json.dumps({"modelArn": job.model_arn, "modelName": job.model_name, "jobName": job.name,
                       "jobArn": job.arn, "modelDataSource": {"s3DataSource": {"s3Uri": job.s3_uri}},
                       "creationTime": iso(job.ended_at or job.created_at),
                       "modelArchitecture": (config.get("architectures") or [""])[0], "instructSupported": chat})


def _delete_model(self: BedrockResponse) -> str:
    _emulator().delete_model(self.path.split("/")[-1])
    return "{}"


_RESPONDERS = {"create_model_import_job": _create, "get_model_import_job": _get, "list_model_import_jobs": _list,
               "get_imported_model": _get_model, "delete_imported_model": _delete_model}
