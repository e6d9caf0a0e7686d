"""Per-dataset options: stack defaults, overridden by an `<data key>.options.json` manifest beside the data.

A manifest holds any subset of `DatasetOptions`' fields, for example::

    {"base_model": "amazon.titan-text-express-v1", "hyperparameters": {"epochCount": 3},
     "split": {"train": 0.9, "validation": 0.05, "test": 0.05}, "deployment": {"mode": "none"}}

Unknown fields are errors, so a typo cannot be silently ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel as PydanticModel
from pydantic import (
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ft_pipeline.catalogue.base_models import ACTIVE, BaseModel, UnknownBaseModel, resolve_base_model
from ft_pipeline.catalogue.hyperparameters import hyperparameters_for

MAX_LABELS = 250  # every classification prompt lists the labels: more would dwarf the texts
MAX_LABEL_CHARS = 100
MAX_LABEL_LIST_CHARS = 8_000

OPTIONS_SUFFIX = ".options.json"


class _Strict(PydanticModel):
    model_config = ConfigDict(extra="forbid")


class SplitRatios(_Strict):
    train: float = Field(0.8, gt=0, le=1)
    validation: float = Field(0.1, ge=0, lt=1)
    test: float = Field(0.1, ge=0, lt=1)
    validation_into: Literal["train", "test"] = Field(
        "train", description="where the validation share goes for a model that takes no validation set")

    @model_validator(mode="after")
    def _sum_to_one(self) -> Self:
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"split ratios must sum to 1, got {total:g}")
        return self

    def as_tuple(self) -> tuple[float, float, float]:
        return (self.train, self.validation, self.test)


class DeploymentMode(StrEnum):
    AUTO = "auto"  # on-demand where AWS offers it for the model in the stack's region, otherwise none
    PROVISIONED = "provisioned"  # Provisioned Throughput, no commitment: an explicit opt-in, billed by the hour
    ON_DEMAND = "on-demand"  # CreateCustomModelDeployment (supported models and regions only), no hourly charge
    NONE = "none"  # train only


class QuotaPolicy(StrEnum):
    WAIT = "wait"  # at the account's no-commitment PT limit (2): queue until one is free, up to max_queue_hours
    FAIL = "fail"


class DeploymentOptions(_Strict):
    mode: DeploymentMode = DeploymentMode.AUTO
    model_units: int = Field(1, ge=1, le=1)  # no-commitment PT is 1 MU
    max_hours: float = Field(4.0, gt=0, le=72, description="maximum lifetime: deleted then, whatever happens")
    keep_after_evaluation: bool = Field(False, description="keep it if the evaluation's quality gate passed")
    on_pt_quota: QuotaPolicy = QuotaPolicy.WAIT
    max_queue_hours: float = Field(6.0, gt=0, le=72)
    delete_custom_model_on_gate_failure: bool = False  # custom models bill storage monthly


class QualityGate(_Strict):
    """What the tuned model must reach for the run to pass (and its deployment to be kept, if asked for)."""

    min_accuracy: float | None = Field(None, ge=0, le=1)
    min_macro_f1: float | None = Field(None, ge=0, le=1)
    min_gain_over_base: float | None = Field(0.0, ge=-1, le=1, description="accuracy: tuned − base, at least")
    max_error_rate: float = Field(0.1, ge=0, le=1, description="calls to the tuned model that may fail; above it "
                                  "the gate fails, whatever the figures say (failed calls prove nothing)")


MAX_SEQUENTIAL_CALLS = 25


class EvaluationOptions(_Strict):
    enabled: bool = True
    max_examples: int = Field(200, ge=1, le=5_000)
    compare_with_base_model: bool = True
    base_model_id: str | None = Field(None, max_length=200, description="the base model's on-demand id or "
                                      "inference profile for Converse (default: the catalogue's id)")
    chunk_size: int = Field(25, ge=1, le=200, description="examples per chunk of work (one queue message): small "
                            "enough to finish well inside Lambda's 15 minutes under throttling")
    concurrency: int = Field(4, ge=1, le=32, description="calls in flight per chunk (size to your quota)")
    max_tokens: int = Field(20, ge=1, le=512, description="answer budget per call")
    gate: QualityGate = Field(default_factory=QualityGate)

    @model_validator(mode="after")
    def _chunk_fits_a_lambda(self) -> Self:
        # calls one worker makes in sequence: each may take up to 30 s with retries under throttling, and a chunk
        # must be stored inside Lambda's 15 minutes or every call in it is paid again
        sequential = self.chunk_size * 2 / self.concurrency
        if sequential > MAX_SEQUENTIAL_CALLS:
            raise ValueError(f"evaluation.chunk_size {self.chunk_size} with concurrency {self.concurrency} makes "
                             f"{sequential:g} calls in sequence per chunk (at most {MAX_SEQUENTIAL_CALLS}); lower "
                             "chunk_size or raise concurrency")
        return self


class CsvColumns(_Strict):
    """Column names, when the header's are not among the common ones the validator recognises."""

    text: str | None = Field(None, max_length=200)
    label: str | None = Field(None, max_length=200)
    prompt: str | None = Field(None, max_length=200)
    completion: str | None = Field(None, max_length=200)
    delimiter: Literal[",", ";", "\t", "|"] | None = Field(None, description="default: detected from the header")


class DatasetOptions(_Strict):
    base_model: str = Field("amazon.nova-micro-v1:0:128k", max_length=200)
    hyperparameters: dict[str, StrictInt | StrictFloat | Annotated[str, StringConstraints(max_length=32)]] = Field(
        default_factory=dict, max_length=20)
    split: SplitRatios = Field(default_factory=SplitRatios)
    deployment: DeploymentOptions = Field(default_factory=DeploymentOptions)
    evaluation: EvaluationOptions = Field(default_factory=EvaluationOptions)
    csv_columns: CsvColumns = Field(default_factory=CsvColumns)
    labels: list[str] | None = Field(None, max_length=MAX_LABELS,
                                     description="fixes the label set; other labels are rejected")
    system_prompt: str | None = Field(None, max_length=10_000, description="goes into every record without one")
    max_rejected_fraction: float = Field(0.1, ge=0, le=1, description="reject the dataset above this share")
    max_records: int | None = Field(None, ge=1, le=10_000_000,
                                    description="raised 'Sum of training and validation records' quota")
    seed: str = Field("", max_length=64, description="changes the split assignment deterministically")
    allow_repeat: bool = Field(False, description="train again on data and options an earlier run already has "
                               "(by default the same upload twice is rejected, so it does not pay twice)")
    cost_ceiling_usd: float | None = Field(None, gt=0, le=1_000_000,
                                           description="refuse the run above this estimate; delete a PT at it")

    @field_validator("base_model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        try:
            model = resolve_base_model(value)
        except UnknownBaseModel as exc:
            raise ValueError(str(exc)) from None
        if model.retired:
            active = ", ".join(m.model_id for m in ACTIVE)
            raise ValueError(f"{model.model_id} can no longer be fine-tuned: {model.retired}; choose one of {active}")
        return model.model_id

    @field_validator("labels")
    @classmethod
    def _labels_distinct(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        cleaned = [v.strip() for v in value]
        if len(set(cleaned)) != len(cleaned) or len(cleaned) < 2 or not all(cleaned):
            raise ValueError("labels must be at least two distinct non-empty strings")
        if not all(v.isprintable() for v in cleaned):
            raise ValueError("labels hold control characters")
        long = next((v for v in cleaned if len(v) > MAX_LABEL_CHARS), None)
        if long is not None:
            raise ValueError(f"a label is a class name of at most {MAX_LABEL_CHARS} characters; one has {len(long)}")
        listing = len(", ".join(cleaned))
        if listing > MAX_LABEL_LIST_CHARS:
            raise ValueError(f"the labels take {listing} characters when listed; every classification prompt lists "
                             f"them, at most {MAX_LABEL_LIST_CHARS}")
        return cleaned

    @field_validator("system_prompt")
    @classmethod
    def _system_prompt_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("system_prompt is blank: leave it out, or give the text")
        if value is not None and any(ord(c) < 32 and c not in "\n\t" for c in value):
            raise ValueError("system_prompt holds control characters")
        return value

    @model_validator(mode="after")
    def _fits_model(self, info: ValidationInfo) -> Self:
        model = self.model
        try:
            hyperparameters_for(model.family, self.hyperparameters)
        except ValidationError as exc:
            problems = "; ".join(f"hyperparameters.{_loc(e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
            raise ValueError(f"{problems} (for {model.family.value} models)") from None
        # what the pipeline writes into records obeys the rules records obey
        for name, values in (("system_prompt", [self.system_prompt] if self.system_prompt else []),
                             ("labels", self.labels or [])):
            for value in values:
                token = next((r for r in model.reserved_strings if r in value), None)
                if token is not None:
                    raise ValueError(f"{name} holds the reserved string {token!r}; {model.family.value} "
                                     "customization jobs fail on it")
        return self._fits_region(info)

    def _fits_region(self, info: ValidationInfo) -> Self:
        """With the stack's context (its region, the PT price): resolve `auto`, refuse what AWS would."""
        context = info.context or {}
        region = context.get("region")
        model, mode = self.model, self.deployment.mode
        if mode is DeploymentMode.AUTO and region is not None:  # without a region (a unit test) it stays auto
            mode = DeploymentMode.ON_DEMAND if model.on_demand_in(region) else DeploymentMode.NONE
            self.deployment.mode = mode
        offered_here = model.on_demand_in(region) if region else model.supports_on_demand
        if mode is DeploymentMode.ON_DEMAND and not offered_here:
            offered = ", ".join(model.on_demand_regions) or "no region"
            where = f" in {region}" if region else ""
            raise ValueError(f"deployment.mode 'on-demand' is not offered for {model.model_id}{where} (AWS documents "
                             f"it in {offered}); set deployment.mode to 'provisioned', 'none' or 'auto'")
        if mode is DeploymentMode.PROVISIONED and "pt_hourly_usd" in context and context["pt_hourly_usd"] is None:
            raise ValueError("deployment.mode 'provisioned' bills by the hour, and this stack does not know the price "
                             "(set its ProvisionedThroughputHourlyUsd parameter to what the Bedrock console shows), "
                             "so its cost could not be bounded; use 'on-demand', 'auto' or 'none'")
        ceiling = context.get("cost_ceiling_usd")
        if ceiling is not None and (self.cost_ceiling_usd is None or self.cost_ceiling_usd > ceiling):
            self.cost_ceiling_usd = ceiling  # a run may lower the stack's ceiling, never raise it
        return self

    @property
    def model(self) -> BaseModel:
        return resolve_base_model(self.base_model)

    @property
    def epochs(self) -> int:
        return int(hyperparameters_for(self.model.family, self.hyperparameters).model_dump()["epochCount"])

    def api_hyperparameters(self) -> dict[str, str]:
        return hyperparameters_for(self.model.family, self.hyperparameters).as_api_map()


def _loc(loc: tuple[Any, ...]) -> str:
    """An error's location; a key is the user's text, so each part is cut short."""
    return ".".join(str(p) if len(str(p)) <= 40 else str(p)[:40] + "…" for p in loc) or "options"


MAX_MANIFEST_DEPTH = 6  # the deepest option is two levels down; more is a mistake or an attack


def _walk(value: Any, limit: int = MAX_MANIFEST_DEPTH + 1) -> Iterator[tuple[str, int, Any]]:
    """(path, depth, value) of every value in parsed JSON, without recursion (a hostile manifest may nest thousands
    deep); nothing below `limit` levels is visited."""
    stack: list[tuple[str, int, Any]] = [("", 1, value)]
    while stack:
        path, depth, item = stack.pop()
        yield path, depth, item
        if depth < limit and isinstance(item, dict):
            stack.extend((f"{path}.{k}" if path else str(k), depth + 1, v) for k, v in item.items())
        elif depth < limit and isinstance(item, list):
            stack.extend((f"{path}[{i}]", depth + 1, v) for i, v in enumerate(item))


def _too_deep(value: Any) -> bool:
    return any(depth > MAX_MANIFEST_DEPTH and isinstance(item, dict | list) for _, depth, item in _walk(value))


class InvalidOptions(ValueError):
    """Options that cannot be used; the message names the source and the field."""


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "hyperparameters":
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def resolve_options(defaults: dict[str, Any], manifest: bytes | None, source: str,
                    context: dict[str, Any] | None = None) -> DatasetOptions:
    """Stack defaults overridden by a manifest. Errors name `source` and the failing field. `context`: what the
    stack knows (`region`, `pt_hourly_usd`, `cost_ceiling_usd`) for the deployment gate."""
    override: dict[str, Any] = {}
    if manifest is not None:
        try:
            override = json.loads(manifest, parse_constant=_no_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidOptions(f"{source}: not valid JSON ({str(exc)[:200]})") from None
        except RecursionError:
            raise InvalidOptions(f"{source}: nested too deeply (at most {MAX_MANIFEST_DEPTH} levels)") from None
        if not isinstance(override, dict):
            raise InvalidOptions(f"{source}: must be a JSON object")
        if _too_deep(override):
            raise InvalidOptions(f"{source}: nested too deeply (at most {MAX_MANIFEST_DEPTH} levels)")
        if "base_model" in override and "hyperparameters" not in override:
            # hyperparameters from the stack default belong to the default model's family
            defaults = {k: v for k, v in defaults.items() if k != "hyperparameters"}
    try:
        options = DatasetOptions.model_validate(_deep_merge(defaults, override), context=context)
    except ValidationError as exc:
        errors = exc.errors()
        problems = "; ".join(f"{_loc(err['loc'])}: {err['msg'][:300]}" for err in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise InvalidOptions(f"{source}: {problems}{more}") from None
    problem = _unstorable(options.model_dump(mode="json"))
    if problem:
        raise InvalidOptions(f"{source}: {problem}")
    return options


MAX_OPTIONS_BYTES = 32_000  # the options travel in every event of the run (EventBridge: 256 KB) and its record


def _unstorable(dumped: dict[str, Any]) -> str | None:
    """Why the options could not be stored in the ledger (DynamoDB numbers: magnitude 1e-130 to 1e126) or sent in
    an event, or None."""
    size = len(json.dumps(dumped))  # ASCII-escaped, as the event bus sends it
    if size > MAX_OPTIONS_BYTES:
        return f"the options take {size:,} bytes as JSON; at most {MAX_OPTIONS_BYTES:,}"
    for path, _, value in _walk(dumped, limit=1 << 30):  # validated options are shallow: no limit needed
        if isinstance(value, float) and value != 0 and not 1e-100 < abs(value) < 1e100:
            return f"{_loc((path,))}: {value!r} is too small or too large to store; use 0 or a usable value"
    return None


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")
