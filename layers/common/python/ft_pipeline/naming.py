"""Deterministic names for Bedrock resources, derived from the run id, within the API's rules.

CreateModelCustomizationJob (botocore service model, bedrock 2023-04-20):
  jobName          1-63  [a-zA-Z0-9](-*[a-zA-Z0-9\\+\\-\\.])*
  customModelName  1-63  ([0-9a-zA-Z][_-]?){1,63}
  clientRequestToken 1-256 [a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?
The same run id always gives the same names and token, so a redelivered event cannot start a second job.
"""

from __future__ import annotations

import hashlib
import re

JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])*")
CUSTOM_MODEL_NAME = re.compile(r"([0-9a-zA-Z][_-]?){1,63}")
TOKEN = re.compile(r"[a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?")
PREFIX = re.compile(r"[a-z0-9]{1,12}")


def _checked(name: str, pattern: re.Pattern[str], what: str) -> str:
    if not (1 <= len(name) <= 63) or not pattern.fullmatch(name):
        raise ValueError(f"{what} {name!r} breaks Bedrock's naming rules")
    return name


def job_name(prefix: str, run_id: str) -> str:
    return _checked(f"{prefix}-job-{run_id}", JOB_NAME, "job name")


def custom_model_name(prefix: str, run_id: str) -> str:
    return _checked(f"{prefix}-model-{run_id}", CUSTOM_MODEL_NAME, "custom model name")


def client_request_token(prefix: str, run_id: str) -> str:
    token = hashlib.sha256(f"{prefix}/{run_id}/customization".encode()).hexdigest()[:40]
    assert TOKEN.fullmatch(token)
    return token


def job_name_prefix(prefix: str) -> str:
    """What every job name of this stack starts with (the EventBridge rule filters on it)."""
    return f"{prefix}-job-"


def run_id_from_job_name(prefix: str, name: str) -> str | None:
    head = job_name_prefix(prefix)
    return name[len(head):] if name.startswith(head) else None


# CreateProvisionedModelThroughput.provisionedModelName and CreateCustomModelDeployment.modelDeploymentName:
# 1-63, ([0-9a-zA-Z][_-]?)+ (botocore, bedrock 2023-04-20). The run id and the stack's prefix make it ours.
SERVING_KINDS = {"provisioned": "pt", "on-demand": "dep"}


PIPELINE_TAG = "pipeline"  # every resource we create carries it: the stack that made it


def pipeline_tag(stack_name: str, prefix: str) -> str:
    return stack_name or prefix


def serving_name(prefix: str, mode: str, run_id: str) -> str:
    return _checked(f"{prefix}-{SERVING_KINDS[mode]}-{run_id}", CUSTOM_MODEL_NAME, "serving resource name")


def serving_token(prefix: str, mode: str, run_id: str) -> str:
    return hashlib.sha256(f"{prefix}/{run_id}/serving/{mode}".encode()).hexdigest()[:40]


def run_id_from_serving_name(prefix: str, name: str) -> tuple[str, str] | None:
    """(mode, run id) of one of this stack's serving resources, else None."""
    for mode, kind in SERVING_KINDS.items():
        head = f"{prefix}-{kind}-"
        if name.startswith(head):
            return mode, name[len(head):]
    return None


# What the bucket's lifecycle rules expire, told by the key (template.yaml: expire-rejected-records and
# expire-intermediate-data). Splits, reports and the evaluation report are kept.
_RETENTION = ((re.compile(r"[^/]+/[^/]+/rejected\.jsonl"), "rejected"),
              (re.compile(r"[^/]+/[^/]+/evaluation/chunks/[^/]+"), "intermediate"))
RETENTION_TAG = "retention"


def retention_tag(key: str) -> tuple[str, str] | None:
    """The (tag key, value) an object written at `key` carries for the lifecycle rules, or None to keep it."""
    for pattern, value in _RETENTION:
        if pattern.fullmatch(key):
            return RETENTION_TAG, value
    return None


# CreateModelImportJob (botocore, bedrock 2023-04-20): jobName as above; importedModelName 1-63
# ([0-9a-zA-Z][_-]?)+; clientRequestToken as above (the SDK does not fill it in for this operation).
def model_run_id(bucket: str, folder: str, manifest_digest: str | None) -> str:
    """The run of one manifest of a model folder: `<folder slug>-<10 hex>`, at most 35 characters. Another manifest
    (its content's digest) is a new run; the same one, delivered or uploaded again, the same run."""
    name = folder.rstrip("/").rsplit("/", 1)[-1].lower()
    slug = re.sub(r"[^a-z0-9]+", "-", name).strip("-")[:24].strip("-") or "model"
    digest = hashlib.sha256(f"{bucket}/{folder}#{manifest_digest or ''}".encode()).hexdigest()[:10]
    return f"{slug}-{digest}"


def import_job_name(prefix: str, run_id: str) -> str:
    return _checked(f"{prefix}-import-{run_id}", JOB_NAME, "import job name")


def imported_model_name(prefix: str, run_id: str) -> str:
    return _checked(f"{prefix}-imported-{run_id}", CUSTOM_MODEL_NAME, "imported model name")


def import_token(prefix: str, run_id: str) -> str:
    return hashlib.sha256(f"{prefix}/{run_id}/import".encode()).hexdigest()[:40]
