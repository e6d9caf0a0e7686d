"""What a run costs, and where each price comes from. A price AWS's pages do not state is None, never invented.

- Training: per 1,000 training tokens × epochs, per model (`base_models.py`, "price to train 1,000 tokens";
  https://aws.amazon.com/bedrock/pricing/).
- Provisioned Throughput without commitment: billed per model unit and hour while it exists, used or not
  (https://docs.aws.amazon.com/bedrock/latest/userguide/prov-thru-purchase.html). The hourly price of a
  no-commitment PT for a custom model is not readable on the pricing page (UNCONFIRMED): the stack takes it as
  the `ProvisionedThroughputHourlyUsd` parameter (the console shows it when you purchase), and a provisioned
  deployment is refused while it is unknown, since its cost could not be bounded.
- On-demand custom model deployment: no hourly charge; tokens are billed at the model's on-demand inference
  price (https://docs.aws.amazon.com/bedrock/latest/userguide/deploy-custom-model-on-demand.html). Per-token
  prices of the evaluation are the next step's.
- Custom model storage: billed monthly per custom model (https://aws.amazon.com/bedrock/pricing/, "custom model
  storage"); the amount is UNCONFIRMED here: `CustomModelStorageMonthlyUsd` sets it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field

UNCONFIRMED_PT_PRICE = ("no-commitment Provisioned Throughput price per model-unit hour "
                        "(set ProvisionedThroughputHourlyUsd)")
UNCONFIRMED_STORAGE = "custom model storage per month (set CustomModelStorageMonthlyUsd)"


@dataclass(frozen=True)
class PriceTable:
    pt_hourly_usd_per_unit: float | None = None
    storage_monthly_usd: float | None = None

    def serving_usd(self, mode: str | None, units: int, hours: float) -> float | None:
        """What serving for `hours` costs (None: unknown); on-demand deployments have no hourly charge."""
        if mode in (None, "none", "on-demand"):
            return 0.0
        if self.pt_hourly_usd_per_unit is None:
            return None
        return round(self.pt_hourly_usd_per_unit * units * hours, 4)


class CostSummary(BaseModel):
    """The run's cost so far, as the run record shows it."""

    training_usd: float | None = None
    serving_usd: float | None = None
    serving_hours: float = 0.0
    storage_usd_per_month: float | None = None
    total_usd: float | None = None
    unconfirmed: list[str] = Field(default_factory=list)


def hours_between(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds() / 3600)


def summarise(training_usd: float | None, mode: str | None, units: int, serving_hours: float,
              has_custom_model: bool, prices: PriceTable) -> CostSummary:
    serving = prices.serving_usd(mode, units, serving_hours)
    unconfirmed = []
    if serving is None:
        unconfirmed.append(UNCONFIRMED_PT_PRICE)
    storage = prices.storage_monthly_usd if has_custom_model else None
    if has_custom_model and storage is None:
        unconfirmed.append(UNCONFIRMED_STORAGE)
    known = [x for x in (training_usd, serving) if x is not None]
    total = round(sum(known), 4) if known and serving is not None and training_usd is not None else None
    return CostSummary(training_usd=training_usd, serving_usd=serving, serving_hours=round(serving_hours, 3),
                       storage_usd_per_month=storage, total_usd=total, unconfirmed=unconfirmed)
