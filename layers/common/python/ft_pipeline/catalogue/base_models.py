"""The Bedrock base models this pipeline can fine-tune, with the dataset rules AWS documents for each.

Sources (checked 2026-11; the docs win where this table and they disagree):
- formats and size limits: https://docs.aws.amazon.com/bedrock/latest/userguide/model-customization-prepare.html
- Nova rules: https://docs.aws.amazon.com/nova/latest/userguide/fine-tune-prepare-data-understanding.html and
  AWS's Nova dataset validator (aws-samples/amazon-bedrock-samples, nova_ft_dataset_validator.py)
- record-count quotas ("Sum of training and validation records"): AWS General Reference, Bedrock quotas.
  Quotas are adjustable; raise `max_records` in the dataset options after raising the quota.
- prices: https://aws.amazon.com/bedrock/pricing/ (us-east-1, model customization, "price to train 1,000 tokens").
- which models can still be fine-tuned: https://docs.aws.amazon.com/bedrock/latest/userguide/custom-model-fine-tuning.html
  and the model lifecycle page (model-lifecycle.html). Retired models stay listed with `retired` set, so that their
  ids get a clear answer rather than "unknown".
- Nova 2 Lite: https://docs.aws.amazon.com/bedrock/latest/userguide/nova-2-sft-data-prep.html (no validation set;
  200-20,000 records per AWS's dataset validator and Nova Forge SDK).

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
    NOVA_2 = "nova-2"
    TITAN_TEXT = "titan-text"
    CLAUDE_3_HAIKU = "claude-3-haiku"
    LLAMA_3_1 = "llama-3.1"
    LLAMA_3_2 = "llama-3.2"
    LLAMA_3_3 = "llama-3.3"
    COHERE_COMMAND = "cohere-command"


# Nova fails a job whose prompts contain these (Nova user guide + AWS's validator).
NOVA_RESERVED_STRINGS = (
    "User:", "Bot:", "Assistant:", "System:", "[EOS]", "<image>", "<video>",
    "USER:", "BOT:", "ASSISTANT:", "SYSTEM:", "Thought:", "<unk>",
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
    accepts_validation_data: bool = True  # Nova 2 fine-tuning takes no validation set
    # what Converse calls the base model, where it is not the short id (Nova 2 Lite: an inference profile only)
    converse_id: str | None = None
    # set when AWS no longer offers fine-tuning of this model: kept so that its id gets a clear answer
    retired: str | None = None
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


# lifecycle: https://docs.aws.amazon.com/bedrock/latest/userguide/model-lifecycle.html (checked 2026-11)
_RETIRED_LLAMA_3_2 = "Llama 3.2 models reached their end of life on 2026-07-07"
_RETIRED_COHERE = "Cohere Command models reached their end of life on 2025-08-12"
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
    BaseModel("amazon.nova-2-lite-v1:0:256k", Family.NOVA_2, OutputFormat.CONVERSATION_2024, 200, 20_000, 0, 32_000,
              reserved_strings=NOVA_RESERVED_STRINGS, on_demand_regions=_US_EAST_1, accepts_validation_data=False,
              # https://docs.aws.amazon.com/nova/latest/nova2-userguide/using-converse-api.html
              converse_id="us.amazon.nova-2-lite-v1:0",
              notes=("no validation set (Nova 2 SFT ignores one): its share goes to train or test",
                     "per-record token limit UNCONFIRMED (32k assumed)", "training price UNCONFIRMED",
                     "hyperparameters as Nova 1 (AWS's Nova Forge SDK uses the same names and ranges)",
                     "reasoningContent blocks are not supported by this pipeline yet")),
    BaseModel("amazon.titan-text-express-v1:0:8k", Family.TITAN_TEXT, OutputFormat.PROMPT_COMPLETION, 1, 10_000, None,
              4_096, chars_per_token=6.0, price_per_1k_training_tokens_usd=0.008,
              retired="Titan Text models reached their end of life in 2025 and are gone from AWS's fine-tuning table",
              notes=("record-count quota UNCONFIRMED (10,000 assumed)", "2,048 tokens when batchSize is 2-4")),
    BaseModel("amazon.titan-text-lite-v1:0:4k", Family.TITAN_TEXT, OutputFormat.PROMPT_COMPLETION, 1, 10_000, None,
              4_096, chars_per_token=6.0, price_per_1k_training_tokens_usd=0.0004,
              retired="Titan Text models reached their end of life in 2025 and are gone from AWS's fine-tuning table",
              notes=("record-count quota UNCONFIRMED (10,000 assumed)", "2,048 tokens when batchSize is 3-6")),
    BaseModel("anthropic.claude-3-haiku-20240307-v1:0:200k", Family.CLAUDE_3_HAIKU, OutputFormat.CLAUDE_MESSAGES,
              32, 10_000, 1_000, 32_000, max_training_records=10_000,
              max_training_bytes=10 * _GB, max_validation_bytes=1 * _GB,
              price_per_1k_training_tokens_usd=0.004,
              retired="Claude 3 Haiku reached its end of life on 2026-09-10 in us-west-2, its only fine-tuning region"),
    BaseModel("meta.llama3-1-8b-instruct-v1:0:128k", Family.LLAMA_3_1, OutputFormat.PROMPT_COMPLETION, 100, 10_000,
              None, 16_000, max_input_tokens=16_000, max_output_tokens=16_000, chars_per_token=6.0,
              price_per_1k_training_tokens_usd=0.00149),
    BaseModel("meta.llama3-1-70b-instruct-v1:0:128k", Family.LLAMA_3_1, OutputFormat.PROMPT_COMPLETION, 100, 10_000,
              None, 16_000, max_input_tokens=16_000, max_output_tokens=16_000, chars_per_token=6.0,
              price_per_1k_training_tokens_usd=0.00799),
    BaseModel("meta.llama3-2-1b-instruct-v1:0:128k", Family.LLAMA_3_2, OutputFormat.CONVERSATION_2024, 100, 10_000,
              None, 16_000, retired=_RETIRED_LLAMA_3_2, notes=("price UNCONFIRMED",)),
    BaseModel("meta.llama3-2-3b-instruct-v1:0:128k", Family.LLAMA_3_2, OutputFormat.CONVERSATION_2024, 100, 10_000,
              None, 16_000, retired=_RETIRED_LLAMA_3_2, notes=("price UNCONFIRMED",)),
    BaseModel("meta.llama3-2-11b-instruct-v1:0:128k", Family.LLAMA_3_2, OutputFormat.CONVERSATION_2024, 100, 10_000,
              None, 16_000, retired=_RETIRED_LLAMA_3_2, notes=("price UNCONFIRMED",)),
    BaseModel("meta.llama3-2-90b-instruct-v1:0:128k", Family.LLAMA_3_2, OutputFormat.CONVERSATION_2024, 100, 10_000,
              None, 10_000, retired=_RETIRED_LLAMA_3_2, notes=("price UNCONFIRMED",)),
    BaseModel("meta.llama3-3-70b-instruct-v1:0:128k", Family.LLAMA_3_3, OutputFormat.CONVERSATION_2024, 100, 10_000,
              None, 16_000, on_demand_regions=("us-west-2",),
              notes=("limits assumed equal to Llama 3.2", "price UNCONFIRMED")),
    BaseModel("cohere.command-text-v14:7:4k", Family.COHERE_COMMAND, OutputFormat.PROMPT_COMPLETION, 1, 11_000, 1_000,
              6_144, max_input_tokens=4_096, max_output_tokens=2_048, chars_per_token=6.0, max_training_records=10_000,
              price_per_1k_training_tokens_usd=0.004, retired=_RETIRED_COHERE),
    BaseModel("cohere.command-light-text-v14:7:4k", Family.COHERE_COMMAND, OutputFormat.PROMPT_COMPLETION, 1, 11_000,
              1_000, 6_144, max_input_tokens=4_096, max_output_tokens=2_048, chars_per_token=6.0,
              max_training_records=10_000,
              price_per_1k_training_tokens_usd=0.001, retired=_RETIRED_COHERE),
)

ACTIVE = tuple(m for m in CATALOGUE if m.retired is None)

# the longest record any model accepts, in characters: what the validator reads of one record before it stops
LONGEST_RECORD_CHARS = max(int(m.max_record_tokens * m.chars_per_token) for m in CATALOGUE)

PRICE_SOURCE = "https://aws.amazon.com/bedrock/pricing/ (us-east-1, model customization), read 2026-11"

_BY_ID = ({m.model_id.split(":")[0]: m for m in CATALOGUE} | {m.short_id: m for m in CATALOGUE}
          | {m.model_id: m for m in CATALOGUE})


class UnknownBaseModel(ValueError):
    pass


def resolve_base_model(model_id: str) -> BaseModel:
    """Look a model up by its customization id, with or without the context suffix (and version)."""
    model = _BY_ID.get(model_id.strip())
    if model is None:
        known = ", ".join(m.model_id for m in ACTIVE)
        shown = model_id if len(model_id) <= 80 else model_id[:80] + "…"
        raise UnknownBaseModel(f"unknown base model {shown!r}; customizable models: {known}")
    return model
