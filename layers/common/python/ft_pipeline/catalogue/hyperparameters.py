"""Bedrock customization hyperparameters, one typed model per base-model family.

Names, ranges and defaults: https://docs.aws.amazon.com/bedrock/latest/userguide/custom-models-hp.html
(cm-hp-nova-mm, cm-hp-titan-text, cm-hp-anth-claude-3, cm-hp-meta-llama31/32, cm-hp-cohere-command).
The API takes `hyperParameters` as map<string,string>, hence `as_api_map()`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel as PydanticModel
from pydantic import ConfigDict, Field

from ft_pipeline.catalogue.base_models import Family


class _Hyperparameters(PydanticModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def as_api_map(self) -> dict[str, str]:
        return {name: _api_string(value) for name, value in self.model_dump().items()}


def _api_string(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)  # 1e-05 stays exact; the API parses it
    return str(value)


class NovaHyperparameters(_Hyperparameters):
    epochCount: int = Field(2, ge=1, le=5)
    learningRate: float = Field(1e-5, ge=1e-6, le=1e-4)
    learningRateWarmupSteps: int = Field(10, ge=0, le=100)


class TitanTextHyperparameters(_Hyperparameters):
    epochCount: int = Field(5, ge=1, le=10)
    batchSize: int = Field(1, ge=1, le=64)
    learningRate: float = Field(1e-5, ge=0.0, le=1.0)
    learningRateWarmupSteps: int = Field(5, ge=0, le=250)


class Claude3HaikuHyperparameters(_Hyperparameters):
    epochCount: int = Field(2, ge=1, le=10)
    batchSize: int = Field(32, ge=4, le=256)
    learningRateMultiplier: float = Field(1.0, ge=0.1, le=2.0)
    earlyStoppingThreshold: float = Field(0.001, ge=0.0, le=0.1)
    earlyStoppingPatience: int = Field(2, ge=1, le=10)


class LlamaHyperparameters(_Hyperparameters):
    epochCount: int = Field(5, ge=1, le=10)
    batchSize: int = Field(1, ge=1, le=1)
    learningRate: float = Field(1e-4, ge=5e-6, le=0.1)


class CohereCommandHyperparameters(_Hyperparameters):
    epochCount: int = Field(1, ge=1, le=100)
    batchSize: int = Field(8, ge=8, le=32)
    learningRate: float = Field(1e-5, ge=5e-6, le=0.1)
    earlyStoppingThreshold: float = Field(0.01, ge=0.0, le=0.1)
    earlyStoppingPatience: int = Field(6, ge=1, le=10)
    evalPercentage: float = Field(20.0, ge=5.0, le=50.0)


HYPERPARAMETERS_BY_FAMILY: dict[Family, type[_Hyperparameters]] = {
    Family.NOVA: NovaHyperparameters,
    Family.NOVA_2: NovaHyperparameters,  # no AWS page yet; AWS's Nova Forge SDK uses Nova 1's names and ranges
    Family.TITAN_TEXT: TitanTextHyperparameters,
    Family.CLAUDE_3_HAIKU: Claude3HaikuHyperparameters,
    Family.LLAMA_3_1: LlamaHyperparameters,
    Family.LLAMA_3_2: LlamaHyperparameters,
    Family.LLAMA_3_3: LlamaHyperparameters,
    Family.COHERE_COMMAND: CohereCommandHyperparameters,
}


def hyperparameters_for(family: Family, values: dict[str, Any]) -> _Hyperparameters:
    """Validate `values` (strings, as the API takes them, or numbers) for a family.

    Raises pydantic.ValidationError naming the field and the allowed range; unknown names are errors too.
    """
    return HYPERPARAMETERS_BY_FAMILY[family].model_validate(values)
