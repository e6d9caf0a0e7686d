"""`report.json`: what the validator read, kept, rejected and produced, and what training would cost."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel as PydanticModel
from pydantic import Field

MAX_REASONS = 20
MAX_REASON_CHARS = 600


class DatasetStatus(StrEnum):
    VALIDATED = "VALIDATED"
    REJECTED = "REJECTED"


class InputSummary(PydanticModel):
    container: str | None = None  # jsonl | csv
    input_format: str | None = None
    gzip: bool = False
    bom: bool = False
    encoding: str | None = None  # as read: utf-8, or what the reader detected (utf-16-le, cp1252)
    csv: dict[str, Any] | None = Field(None, description="the CSV dialect as read: delimiter, header line")
    bytes_read: int = 0


class Counts(PydanticModel):
    records_read: int = Field(0, description="JSONL lines, or CSV records after the header")
    accepted: int = 0
    rejected: int = 0
    blank: int = 0
    duplicates: int = Field(0, description="rejected as duplicates (included in rejected)")
    rejected_by_reason: dict[str, int] = Field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        return self.accepted + self.rejected + self.blank == self.records_read


class SplitSummary(PydanticModel):
    file: str
    records: int = 0
    bytes: int = 0
    labels: dict[str, int] | None = None
    estimated_tokens: int = 0
    sha256: str | None = Field(None, description="of the file as written: what the job trains on")


class CostEstimate(PydanticModel):
    training_tokens_per_epoch: int
    epochs: int
    training_tokens_total: int
    price_per_1k_tokens_usd: float | None
    usd: float | None
    price_source: str
    note: str = "estimate: tokens are counted as characters / chars_per_token; the bill counts real tokens"
    deployment_mode: str | None = None
    deployment_usd_max: float | None = Field(None, description="serving for the whole maximum lifetime")
    total_usd_max: float | None = None
    ceiling_usd: float | None = None


class ValidationReport(PydanticModel):
    dataset_id: str
    source: str
    status: DatasetStatus = DatasetStatus.VALIDATED
    reasons: list[str] = Field(default_factory=list, description="why the dataset as a whole was rejected")
    warnings: list[str] = Field(default_factory=list)
    base_model: str
    family: str
    output_format: str
    input: InputSummary = Field(default_factory=InputSummary)
    counts: Counts = Field(default_factory=Counts)
    accounting_balanced: bool = True
    splits: dict[str, SplitSummary] = Field(default_factory=dict)
    labels: list[str] | None = None
    label_counts: dict[str, int] | None = None
    lengths: dict[str, dict[str, Any]] = Field(default_factory=dict)
    duplicate_examples: list[dict[str, int]] = Field(default_factory=list, description="first few (line, duplicate_of)")
    rejected_listed: int = Field(0, description="rejected records listed in rejected.jsonl (all, unless it is full)")
    estimated_cost: CostEstimate | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    def reject(self, reason: str) -> None:
        self.status = DatasetStatus.REJECTED
        if len(self.reasons) < MAX_REASONS:  # reasons travel in events and the ledger: short and few
            self.reasons.append(reason if len(reason) <= MAX_REASON_CHARS else reason[:MAX_REASON_CHARS] + "…")

    def summary_lines(self) -> list[str]:
        c = self.counts
        lines = [
            f"dataset {self.dataset_id}: {self.status.value}",
            f"  source        {self.source}",
            f"  base model    {self.base_model} ({self.output_format})",
            f"  read          {c.records_read} records: {c.accepted} accepted, {c.rejected} rejected "
            f"({c.duplicates} duplicates), {c.blank} blank",
        ]
        for name, split in self.splits.items():
            lines.append(f"  {name:<13} {split.records} records, {split.bytes} bytes")
        if self.label_counts:
            lines.append("  labels        " + ", ".join(f"{k} {v}" for k, v in self.label_counts.items()))
        if self.estimated_cost and self.estimated_cost.usd is not None:
            e = self.estimated_cost
            lines.append(f"  est. cost     ${e.usd:.2f} ({e.training_tokens_total} tokens over {e.epochs} epochs)")
        lines += [f"  reason: {r}" for r in self.reasons]
        lines += [f"  warning: {w}" for w in self.warnings]
        return lines
