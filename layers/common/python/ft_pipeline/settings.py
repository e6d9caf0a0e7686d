"""Settings read from each function's environment (set in template.yaml), validated, never at import time."""

from __future__ import annotations

import json
import os
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ft_pipeline.catalogue.prices import PriceTable


class SettingsError(RuntimeError):
    pass


class _EnvSettings(BaseModel):
    """Read from the function's environment; a missing or malformed variable is one clear error."""

    model_config = ConfigDict(frozen=True)

    @classmethod
    def from_env(cls) -> Self:
        try:
            return cls.model_validate(dict(os.environ))
        except ValidationError as exc:
            problems = "; ".join(f"{e['loc'][0] if e['loc'] else 'settings'}: {e['msg']}" for e in exc.errors())
            raise SettingsError(f"invalid function configuration: {problems}") from None


class _PipelineSettings(_EnvSettings):
    """What every pipeline function gets from the template's Globals."""

    data_bucket: str = Field(alias="DATA_BUCKET")
    datasets_prefix: str = Field("datasets/", alias="DATASETS_PREFIX")
    ledger_table: str = Field(alias="LEDGER_TABLE")
    event_bus_name: str = Field(alias="EVENT_BUS_NAME")
    region: str = Field("us-east-1", alias="AWS_REGION")  # Lambda sets it
    resource_prefix: str = Field(alias="RESOURCE_PREFIX", pattern=r"^[a-z0-9]{1,12}$")
    # set by the local emulation only: the report then says plainly that its models are stand-ins
    stand_in_note: str = Field("", alias="STAND_IN_NOTE")
    cost_ceiling_usd: float | None = Field(None, alias="COST_CEILING_USD")
    pt_hourly_usd: float | None = Field(None, alias="PT_HOURLY_USD")
    storage_monthly_usd: float | None = Field(None, alias="MODEL_STORAGE_MONTHLY_USD")

    @field_validator("cost_ceiling_usd", "pt_hourly_usd", "storage_monthly_usd", mode="before")
    @classmethod
    def _empty_is_unknown(cls, value: object) -> object:
        return None if value in ("", "0", 0, None) else value  # a template parameter left empty (or 0)

    def prices(self) -> PriceTable:
        return PriceTable(pt_hourly_usd_per_unit=self.pt_hourly_usd, storage_monthly_usd=self.storage_monthly_usd)


class ValidatorSettings(_PipelineSettings):
    incoming_prefix: str = Field("incoming/", alias="INCOMING_PREFIX")
    default_base_model: str = Field("amazon.nova-micro-v1:0:128k", alias="DEFAULT_BASE_MODEL")
    default_hyperparameters: str = Field("{}", alias="DEFAULT_HYPERPARAMETERS")
    default_split: str = Field("0.8,0.1,0.1", alias="DEFAULT_SPLIT")
    default_deployment_mode: str = Field("auto", alias="DEFAULT_DEPLOYMENT_MODE")
    max_deployment_hours: float = Field(4.0, alias="MAX_DEPLOYMENT_HOURS", gt=0, le=72)
    default_evaluation_examples: int = Field(200, alias="DEFAULT_EVALUATION_EXAMPLES")
    work_dir: str = Field("/tmp", alias="WORK_DIR")
    work_dir_budget_mb: int = Field(3_584, alias="WORK_DIR_BUDGET_MB", ge=1)

    @model_validator(mode="after")
    def _outputs_cannot_retrigger(self) -> Self:
        # outputs under the incoming prefix would be validated again, forever
        a, b = self.incoming_prefix, self.datasets_prefix
        if a.startswith(b) or b.startswith(a):
            raise ValueError(f"DATASETS_PREFIX {b!r} and INCOMING_PREFIX {a!r} must not overlap")
        return self

    def option_defaults(self) -> dict[str, Any]:
        """Stack parameters as the base layer of every dataset's options."""
        try:
            train, validation, test = (float(x) for x in self.default_split.split(","))
        except ValueError:
            raise SettingsError(f"DEFAULT_SPLIT must be three comma-separated ratios, got {self.default_split!r}") \
                from None
        return {
            "base_model": self.default_base_model,
            "hyperparameters": json.loads(self.default_hyperparameters or "{}"),
            "split": {"train": train, "validation": validation, "test": test},
            "deployment": {"mode": self.default_deployment_mode, "max_hours": self.max_deployment_hours},
            "evaluation": {"max_examples": self.default_evaluation_examples},
        }

    def deployment_context(self) -> dict[str, Any]:
        """What the options' deployment gate needs to know of the stack."""
        return {"region": self.region, "pt_hourly_usd": self.pt_hourly_usd, "cost_ceiling_usd": self.cost_ceiling_usd}


class TrainingSettings(_PipelineSettings):
    """Environment of the training-lifecycle functions (start, job state change, reconciler, stop)."""

    output_prefix: str = Field("customization-output/", alias="CUSTOMIZATION_OUTPUT_PREFIX")
    customization_role_arn: str = Field("", alias="CUSTOMIZATION_ROLE_ARN")
    notifications_topic_arn: str = Field("", alias="NOTIFICATIONS_TOPIC_ARN")
    custom_model_kms_key_arn: str = Field("", alias="CUSTOM_MODEL_KMS_KEY_ARN")
    vpc_subnet_ids: str = Field("", alias="VPC_SUBNET_IDS")
    vpc_security_group_ids: str = Field("", alias="VPC_SECURITY_GROUP_IDS")
    stack_name: str = Field("", alias="STACK_NAME")
    evaluation_queue_url: str = Field("", alias="EVALUATION_QUEUE_URL")
    models_prefix: str = Field("models/", alias="MODELS_PREFIX")  # model folders for Custom Model Import
    import_role_arn: str = Field("", alias="MODEL_IMPORT_ROLE_ARN")

    @model_validator(mode="after")
    def _import_outputs_cannot_retrigger(self) -> Self:
        # the import step writes under the datasets prefix: inside the models prefix, it would see its own files
        a, b = self.models_prefix, self.datasets_prefix
        if a.startswith(b) or b.startswith(a):
            raise ValueError(f"DATASETS_PREFIX {b!r} and MODELS_PREFIX {a!r} must not overlap")
        return self

    def vpc_config(self) -> dict[str, list[str]] | None:
        subnets = [s.strip() for s in self.vpc_subnet_ids.split(",") if s.strip()]
        groups = [g.strip() for g in self.vpc_security_group_ids.split(",") if g.strip()]
        if not subnets and not groups:
            return None
        if not subnets or not groups:
            raise SettingsError("VPC_SUBNET_IDS and VPC_SECURITY_GROUP_IDS must be set together")
        return {"subnetIds": subnets, "securityGroupIds": groups}


class ClassifierSettings(_EnvSettings):
    """Environment of the headline classification proxy."""

    endpoint_name: str = Field("", alias="ENDPOINT_NAME")
    model_version: str = Field("", alias="MODEL_VERSION")
    labels: str = Field("business,entertainment,health,science", alias="LABELS")
    health_cache_seconds: float = Field(30.0, alias="HEALTH_CACHE_SECONDS", ge=0)
    max_body_bytes: int = Field(256 * 1024, alias="MAX_BODY_BYTES", gt=0)

    def label_list(self) -> list[str]:
        return [label.strip() for label in self.labels.split(",") if label.strip()]


class RunsApiSettings(_PipelineSettings):
    """Environment of the runs API."""

    incoming_prefix: str = Field("incoming/", alias="INCOMING_PREFIX")
    link_seconds: int = Field(900, alias="LINK_SECONDS", ge=60, le=12 * 3600)  # report and rejected-record links
    upload_seconds: int = Field(900, alias="UPLOAD_SECONDS", ge=60, le=12 * 3600)  # POST /runs upload URLs
