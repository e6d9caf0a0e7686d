"""The Bedrock base models this pipeline can fine-tune, with the dataset rules AWS documents for each.

Sources (checked 2026-11; the docs win where this table and they disagree):
- formats and size limits: https://docs.aws.amazon.com/bedrock/latest/userguide/model-customization-prepare.html
- Nova rules: https://docs.aws.amazon.com/nova/latest/userguide/fine-tune-prepare-data-understanding.html and
  AWS's Nova dataset validator (aws-samples/amazon-bedrock-samples, nova_ft_dataset_validator.py)
- record-count quotas ("Sum of training and validation records"): AWS General Reference, Bedrock quotas.
  Quotas are adjustable; raise `max_records` in the dataset options after raising the quota.
- prices: https://aws.amazon.com/bedrock/pricing/ (us-east-1, model customization, "price to train 1,000 tokens").

Values marked UNCONFIRMED in `notes` were not found in an authoritative source and are conservative assumptions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class OutputFormat(StrEnum):
    """The JSONL record shape a model's customization job reads."""

    CONVERSATION_2024 = "bedrock-conversation-2024"  # Nova, Llama 3.2/3.3
    CLAUDE_MESSAGES = "claude-messages"  # Claude 3 Haiku: {"system", "messages":[{"role","content":str}]}
    PROMPT_COMPLETION = "prompt-completion"  # Titan Text, Cohere Command, Llama 3.1


class Family(StrEnum):
    NOVA = "nova"
    TITAN_TEXT = "titan-text"
    CLAUDE_3_HAIKU = "claude-3-haiku"
    LLAMA_3_1 = "llama-3.1"
    LLAMA_3_2 = "llama-3.2"
    LLAMA_3_3 = "llama-3.3"
    COHERE_COMMAND = "cohere-command"


# Nova fails a job whose prompts contain these (Nova user guide + AWS's validator).
NOVA_RESERVED_STRINGS = (
    "User:", "Bot:", "Assistant:", "System:", "[EOS]", "<image>", "<video>",
    "USER:", "BOT:", "ASSISTANT:", "SYSTEM:", "Thought:",
)


@dataclass(frozen=True)
class BaseModel:
    model_id: str  # as CreateModelCustomizationJob names it, with the context suffix
    family: Family
    output_format: OutputFormat
    min_records: int  # training + validation
    max_records: int  # training + validation (default quota)
    max_validation_records: int | None
    max_record_tokens: int  # input + output, estimated
    max_training_records: int | None = None
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    max_training_bytes: int = 1 << 30
    max_validation_bytes: int = 100 << 20
    chars_per_token: float = 4.0  # estimate used for limits and cost
    reserved_strings: tuple[str, ...] = ()
    price_per_1k_training_tokens_usd: float | None = None
    # CreateCustomModelDeployment: the regions AWS documents it in for this model (models customized on or
    # after 2025-07-16; https://docs.aws.amazon.com/bedrock/latest/userguide/deploy-custom-model-on-demand.html)
    on_demand_regions: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def supports_on_demand(self) -> bool:
        return bool(self.on_demand_regions)

    def on_demand_in(self, region: str) -> bool:
        return region in self.on_demand_regions

    @property
    def short_id(self) -> str:
        """The id without the context-window suffix (`amazon.nova-micro-v1:0`)."""
        parts = self.model_id.split(":")
        return ":".join(parts[:2])


_GB = 1 << 30
_MB = 1 << 20
_US_EAST_1 = ("us-east-1",)

CATALOGUE: tuple[BaseModel, ...] = (
    BaseModel("amazon.nova-micro-v1:0:128k", Family.NOVA, OutputFormat.CONVERSATION_2024, 8, 20_000, None, 32_000,
              reserved_strings=NOVA_RESERVED_STRINGS, price_per_1k_training_tokens_usd=0.001,
              on_demand_regions=_US_EAST_1,
              notes=("per-record token limit UNCONFIRMED (32k assumed)",)),
    BaseModel("amazon.nova-lite-v1:0:300k", Family.NOVA, OutputFormat.CONVERSATION_2024, 8, 20_000, None, 32_000,
              reserved_strings=NOVA_RESERVED_STRINGS, price_per_1k_training_tokens_usd=0.002,
              on_demand_regions=_US_EAST_1,
              notes=("per-record token limit UNCONFIRMED (32k assumed)",)),
    BaseModel("amazon.nova-pro-v1:0:300k", Family.NOVA, OutputFormat.CONVERSATION_2024, 8, 20_000, None, 32_000,
              reserved_strings=NOVA_RESERVED_STRINGS, price_per_1k_training_tokens_usd=0.008,
              on_demand_regions=_US_EAST_1,
              notes=("per-record token limit UNCONFIRMED (32k assumed)",)),
    BaseModel("amazon.titan-text-express-v1:0:8k", Family.TITAN_TEXT, OutputFormat.PROMPT_COMPLETION, 1, 10_000, None,
              4_096, chars_per_token=6.0, price_per_1k_training_tokens_usd=0.008,
              notes=("record-count quota UNCONFIRMED (10,000 assumed)", "2,048 tokens when batchSize is 2-4")),
    BaseModel("amazon.titan-text-lite-v1:0:4k", Family.TITAN_TEXT, OutputFormat.PROMPT_COMPLETION, 1, 10_000, None,
              4_096, chars_per_token=6.0, price_per_1k_training_tokens_usd=0.0004,
              notes=("record-count quota UNCONFIRMED (10,000 assumed)", "2,048 tokens when batchSize is 3-6")),
    BaseModel("anthropic.claude-3-haiku-20240307-v1:0:200k", Family.CLAUDE_3_HAIKU, OutputFormat.CLAUDE_MESSAGES,
              32, 10_000, 1_000, 32_000, max_training_records=10_000,
              max_training_bytes=10 * _GB, max_validation_bytes=1 * _GB,
              price_per_1k_training_tokens_usd=0.004),
    BaseModel("meta.llama3-1-8b-instruct-v1:0:128k", Family.LLAMA_3_1, OutputFormat.PROMPT_COMPLETION, 100, 10_000,
              None, 16_000, max_input_tokens=16_000, max_output_tokens=16_000, chars_per_token=6.0,
              price_per_1k_training_tokens_usd=0.00149),
    BaseModel("meta.llama3-1-70b-instruct-v1:0:128k", Family.LLAMA_3_1, OutputFormat.PROMPT_COMPLETION, 100, 10_000,
              None, 16_000, max_input_tokens=16_000, max_output_tokens=16_000, chars_per_token=6.0,
              price_per_1k_training_tokens_usd=0.00799),
    BaseModel("meta.llama3-2-1b-instruct-v1:0:128k", Family.LLAMA_3_2, OutputFormat.CONVERSATION_2024, 100, 10_000,
              None, 16_000, notes=("price UNCONFIRMED",)),
    BaseModel("meta.llama3-2-3b-instruct-v1:0:128k", Family.LLAMA_3_2, OutputFormat.CONVERSATION_2024, 100, 10_000,
              None, 16_000, notes=("price UNCONFIRMED",)),
    BaseModel("meta.llama3-2-11b-instruct-v1:0:128k", Family.LLAMA_3_2, OutputFormat.CONVERSATION_2024, 100, 10_000,
              None, 16_000, notes=("price UNCONFIRMED",)),
    BaseModel("meta.llama3-2-90b-instruct-v1:0:128k", Family.LLAMA_3_2, OutputFormat.CONVERSATION_2024, 100, 10_000,
              None, 10_000, notes=("price UNCONFIRMED",)),
    BaseModel("meta.llama3-3-70b-instruct-v1:0:128k", Family.LLAMA_3_3, OutputFormat.CONVERSATION_2024, 100, 10_000,
              None, 16_000, on_demand_regions=("us-west-2",),
              notes=("limits assumed equal to Llama 3.2", "price UNCONFIRMED")),
    BaseModel("cohere.command-text-v14:7:4k", Family.COHERE_COMMAND, OutputFormat.PROMPT_COMPLETION, 1, 11_000, 1_000,
              6_144, max_input_tokens=4_096, max_output_tokens=2_048, chars_per_token=6.0, max_training_records=10_000,
              price_per_1k_training_tokens_usd=0.004),
    BaseModel("cohere.command-light-text-v14:7:4k", Family.COHERE_COMMAND, OutputFormat.PROMPT_COMPLETION, 1, 11_000,
              1_000, 6_144, max_input_tokens=4_096, max_output_tokens=2_048, chars_per_token=6.0,
              max_training_records=10_000,
              price_per_1k_training_tokens_usd=0.001),
)

PRICE_SOURCE = "https://aws.amazon.com/bedrock/pricing/ (us-east-1, model customization), read 2026-11"

_BY_ID = ({m.model_id.split(":")[0]: m for m in CATALOGUE} | {m.short_id: m for m in CATALOGUE}
          | {m.model_id: m for m in CATALOGUE})


class UnknownBaseModel(ValueError):
    pass


def resolve_base_model(model_id: str) -> BaseModel:
    """Look a model up by its customization id, with or without the context suffix (and version)."""
    model = _BY_ID.get(model_id.strip())
    if model is None:
        known = ", ".join(m.model_id for m in CATALOGUE)
        raise UnknownBaseModel(f"unknown base model {model_id!r}; customizable models: {known}")
    return model
