"""The verdict on a model folder, before Bedrock Custom Model Import is asked to import it.

`check_folder` looks at the folder's file names and sizes and reads only its small files (config.json,
tokenizer_config.json, the shard index, the test set), never the weights. It collects every problem at once,
so that one upload fixes them all.

Facts from the Bedrock user guide ("Import a customized model into Amazon Bedrock", "Invoke your imported
model"), as of 2026:

- architectures: Mistral, Mixtral, Flan (T5), Llama 2/3/3.1/3.2/3.3, Mllama, GPTBigCode, Qwen2/2.5/2-VL/2.5-VL,
  Qwen3 (dense and MoE), GPT-OSS 20B/120B (us-east-1 only); no embedding models;
- files: `*.safetensors`, `config.json`, `tokenizer_config.json`, `tokenizer.json`, `tokenizer.model`;
  tokenizers T5, Llama, CodeLlama, GPT2, GPTNeoX, PreTrained, Qwen2 (each with or without Fast);
- weights under 200 GB (text) / 100 GB (multimodal); a context "less than 128K"; transformers 4.51.3;
- regions eu-central-1, us-east-1, us-east-2, us-west-2;
- Converse needs a `chat_template` in tokenizer_config.json, and is not offered for GPT-OSS, Qwen3, Qwen2-VL and
  Qwen2.5-VL (nor, says one page, for Qwen2.5, which shares Qwen2's architecture name: a warning).

Problem codes are stable snake_case strings (`PROBLEM_CODES`); a code may appear among problems or warnings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from ft_pipeline.model_import.manifest import ImportManifest

PROBLEM_CODES: dict[str, str] = {
    "bad_manifest": "import-manifest.json is not valid JSON or breaks its rules",
    "missing_file": "a required file, or one the manifest lists, is not in the folder",
    "size_mismatch": "a file's size differs from the manifest's (an upload cut short or replaced)",
    "unlisted_file": "a file in the folder that the manifest does not list (the job would import it)",
    "not_safetensors": "weights or training state in a pickle/other format (.bin, .pt, .pth, .ckpt, .gguf, .h5...)",
    "lora_adapter": "a LoRA/PEFT adapter, not a full model",
    "bad_shard_index": "a sharded model's index and shards disagree",
    "file_too_large": "a file the check reads (config, tokenizer config, index, test set) is too large",
    "bad_config": "config.json or tokenizer_config.json does not parse or lacks a field",
    "unsupported_architecture": "config.json's architectures is not one Bedrock imports",
    "embedding_model": "an embedding / encoder-only model (no language-model head)",
    "too_large": "the weights exceed Bedrock's limit for the architecture",
    "context_too_long": "the context length is above Bedrock's limit",
    "unsupported_tokenizer": "tokenizer_config.json's tokenizer_class is not one Bedrock lists",
    "no_chat_template": "tokenizer_config.json has no chat_template (no Converse)",
    "invoke_model_only": "the family works through InvokeModel only (no Converse)",
    "region_not_supported": "Custom Model Import (or this family) is not offered in the region",
    "bad_test_set": "the test set is unusable, line by line",
    # warnings only
    "converse_uncertain": "the family may not support Converse",
    "newer_transformers": "config.json was written by a transformers newer than the one Bedrock runs",
    "quantized": "config.json has a quantization_config",
    "unindexed_weights": "a .safetensors file the shard index does not name",
    "no_test_set": "evaluation settings without a test set",
    "unknown_context": "config.json gives no context length",
    "no_tokenizer_class": "tokenizer_config.json names no tokenizer_class",
}


class Problem(BaseModel):
    """One thing wrong (or, among warnings, worth knowing) about the folder; `message` says what and where, and how
    to fix it when that is plain. It quotes at most a short field value, never a file's contents."""

    model_config = ConfigDict(extra="forbid")

    code: str
    file: str | None = None
    line: int | None = None
    field: str | None = None
    message: str

    def where(self) -> str:
        """`file:line (field)`, as much of it as is known."""
        place = self.file or ""
        if self.line is not None:
            place = f"{place}:{self.line}" if place else f"line {self.line}"
        if self.field:
            place = f"{place} ({self.field})" if place else self.field
        return place

    def describe(self) -> str:
        """One line for people: the message names its file (and line) itself."""
        return f"[{self.code}] {self.message}"


class ImportVerdict(BaseModel):
    """What `check_folder` found; written as import-check.json beside the model."""

    model_config = ConfigDict(extra="forbid")

    accepted: bool
    problems: list[Problem] = Field(default_factory=list)
    warnings: list[Problem] = Field(default_factory=list)
    architecture: str | None = None
    family: str | None = None
    converse_supported: bool = False
    weights_bytes: int = 0
    context_length: int | None = None
    files_checked: int = 0
    test_records: int | None = Field(None, description="usable records in the test set, when there is one")

    @classmethod
    def rejected(cls, problems: list[Problem], files_checked: int = 0) -> ImportVerdict:
        """A verdict from problems found before the folder could be checked (an unusable manifest)."""
        return cls(accepted=False, problems=problems, files_checked=files_checked)

    def summary(self) -> str:
        warnings = f", {_count(len(self.warnings), 'warning')}" if self.warnings else ""
        if self.accepted:
            what = f"{self.architecture} ({self.family})" if self.architecture else "model"
            return f"accepted: {what}, {_gb(self.weights_bytes)} of weights{warnings}"
        codes = ", ".join(dict.fromkeys(p.code for p in self.problems))
        return f"rejected: {_count(len(self.problems), 'problem')} ({codes}){warnings}"

    def render(self) -> str:
        lines = [f"Model folder {self.summary()}"]
        if self.problems:
            lines.append("Problems:")
            lines.extend(f"  - {p.describe()}" for p in self.problems)
        if self.warnings:
            lines.append("Warnings:")
            lines.extend(f"  - {p.describe()}" for p in self.warnings)
        facts = [f"architecture {self.architecture or 'unknown'}" + (f" ({self.family})" if self.family else ""),
                 f"weights {_gb(self.weights_bytes)}",
                 f"context {self.context_length if self.context_length is not None else 'unknown'}",
                 f"Converse {'yes' if self.converse_supported else 'no'}",
                 f"files checked {self.files_checked}"]
        if self.test_records is not None:
            facts.append(f"usable test records {self.test_records}")
        lines.append("Facts: " + "; ".join(facts))
        return "\n".join(lines)


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _gb(size: int) -> str:
    """A size for people, in decimal units (as Bedrock's limits are given)."""
    if size >= 10**9:
        return f"{size / 1e9:.2f} GB"
    if size >= 10**6:
        return f"{size / 1e6:.1f} MB"
    return f"{size:,} bytes"


# --- what Bedrock imports -----------------------------------------------------------------------------------------

ARCHITECTURES: dict[str, str] = {
    "LlamaForCausalLM": "llama",
    "MistralForCausalLM": "mistral",
    "MixtralForCausalLM": "mixtral",
    "T5ForConditionalGeneration": "flan",
    "GPTBigCodeForCausalLM": "gptbigcode",
    "Qwen2ForCausalLM": "qwen2",
    "Qwen3ForCausalLM": "qwen3",
    "Qwen3MoeForCausalLM": "qwen3",
    "GptOssForCausalLM": "gpt-oss",
    "MllamaForConditionalGeneration": "mllama",
    "Qwen2VLForConditionalGeneration": "qwen2-vl",
    "Qwen2_5_VLForConditionalGeneration": "qwen2-vl",
}
MULTIMODAL_FAMILIES = frozenset({"mllama", "qwen2-vl"})
INVOKE_MODEL_ONLY_FAMILIES = frozenset({"gpt-oss", "qwen3", "qwen2-vl"})
CONVERSE_UNCERTAIN_FAMILIES = frozenset({"qwen2"})  # Qwen2.5 is Qwen2ForCausalLM too

MAX_TEXT_WEIGHTS_BYTES = 200 * 10**9  # "less than 200 GB"; decimal GB, the stricter reading
MAX_MULTIMODAL_WEIGHTS_BYTES = 100 * 10**9
# The guide says "less than 128K", yet the architectures it lists ship 131072 (Llama 3.1-3.3, GPT-OSS, Mllama):
# 128K is read as 128 Ki tokens, and a context of at most 131072 is accepted.
MAX_CONTEXT_TOKENS = 131_072
CONTEXT_FIELDS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "max_sequence_length")

SUPPORTED_TOKENIZERS = frozenset(
    name + suffix
    for name in ("T5Tokenizer", "LlamaTokenizer", "CodeLlamaTokenizer", "GPT2Tokenizer", "GPTNeoXTokenizer",
                 "PreTrainedTokenizer", "Qwen2Tokenizer")
    for suffix in ("", "Fast")
)
BEDROCK_TRANSFORMERS = (4, 51, 3)

REGIONS = frozenset({"eu-central-1", "us-east-1", "us-east-2", "us-west-2"})
FAMILY_REGIONS: dict[str, frozenset[str]] = {"gpt-oss": frozenset({"us-east-1"})}

REJECTED_WEIGHT_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".gguf", ".h5", ".msgpack", ".pkl", ".pickle", ".onnx",
                            ".keras", ".npz")
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin")
EMBEDDING_MARKERS = ("modules.json", "sentence_bert_config.json", "config_sentence_transformers.json")
_ENCODER_SUFFIXES = ("ForSequenceClassification", "ForTokenClassification", "ForQuestionAnswering", "ForMaskedLM",
                     "ForMultipleChoice", "ForNextSentencePrediction", "ForPreTraining", "ForEmbedding",
                     "ForTextEncoding", "EncoderModel")

MAX_SMALL_FILE_BYTES = 16 * 1024 * 1024  # config, tokenizer config, shard index: a few KB to a few MB
MAX_TEST_SET_BYTES = 10_000_000
MAX_PER_CODE = 25  # beyond it, one problem counts the rest (a folder of 10,000 stray files is one mistake)
MAX_VALUE_CHARS = 60

_SHARD = re.compile(r"^(?P<stem>.+)-(?P<index>\d{5})-of-(?P<total>\d{5})\.safetensors$")


def short(value: object, limit: int = MAX_VALUE_CHARS) -> str:
    """A short quotation of a field's value for a message."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return repr(text[:limit] + "…" if len(text) > limit else text)


class _Findings:
    """Problems and warnings, with each code's list cut at `MAX_PER_CODE` and the rest counted."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self._counts: dict[tuple[bool, str], int] = {}
        self._files: dict[tuple[bool, str], str | None] = {}

    def problem(self, code: str, message: str, file: str | None = None, line: int | None = None,
                field: str | None = None) -> None:
        self._add(True, Problem(code=code, file=file, line=line, field=field, message=message))

    def warning(self, code: str, message: str, file: str | None = None, field: str | None = None) -> None:
        self._add(False, Problem(code=code, file=file, field=field, message=message))

    def extend(self, problems: list[Problem]) -> None:
        self.problems.extend(problems)

    def _add(self, is_problem: bool, problem: Problem) -> None:
        key = (is_problem, problem.code)
        self._counts[key] = self._counts.get(key, 0) + 1
        if self._counts[key] <= MAX_PER_CODE:
            (self.problems if is_problem else self.warnings).append(problem)

    def close(self) -> None:
        for (is_problem, code), count in self._counts.items():
            if count > MAX_PER_CODE:
                rest = Problem(code=code, message=f"… and {count - MAX_PER_CODE} more {code} "
                               f"{'problems' if is_problem else 'warnings'} not listed")
                (self.problems if is_problem else self.warnings).append(rest)


def _ignored(name: str) -> bool:
    from ft_pipeline.model_import.manifest import CHECK_NAME, MANIFEST_NAME

    # S3 "folder" markers (a key ending in /) hold nothing the import would read
    return name in (MANIFEST_NAME, CHECK_NAME) or not name or name.endswith("/")


def _base(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def check_folder(manifest: ImportManifest, present: dict[str, int], read: Callable[[str], bytes],
                 region: str) -> ImportVerdict:
    """The verdict on a folder: `present` maps the names of the files actually in it (relative to the folder) to
    their sizes; the manifest itself, import-check.json and S3 folder markers among them are ignored. `read(name)`
    returns a small file's bytes; it is only called for names in `present`, and what it raises (a transient S3
    error, say) is not caught, since it says nothing about the folder."""
    from ft_pipeline.model_import.test_set import check_test_set

    found = _Findings()
    files = {name: size for name, size in present.items() if not _ignored(name)}
    listed = manifest.files
    names = set(files) | set(listed)

    _check_against_manifest(listed, files, found)
    _check_file_kinds(names, found)
    weights_bytes = sum(files.get(n, listed.get(n, 0)) for n in names if n.endswith(".safetensors")
                        and not _base(n).startswith("adapter_model"))
    _check_shards(names, files, read, found)

    def load(name: str, code: str = "bad_config") -> dict[str, Any] | None:
        if name not in files:
            return None
        if files[name] > MAX_SMALL_FILE_BYTES:
            found.problem("file_too_large", f"{name} is {files[name]:,} bytes; a {name} is at most "
                          f"{MAX_SMALL_FILE_BYTES:,} bytes, so it is not what it should be", file=name)
            return None
        return _parse_json_object(read(name), name, code, found)

    config = load("config.json")
    architecture, family, context = _check_config(config, found) if config is not None else (None, None, None)
    if family is not None:
        limit = MAX_MULTIMODAL_WEIGHTS_BYTES if family in MULTIMODAL_FAMILIES else MAX_TEXT_WEIGHTS_BYTES
        if weights_bytes >= limit:
            kind = "multimodal" if family in MULTIMODAL_FAMILIES else "text"
            found.problem("too_large", f"the weights (*.safetensors) total {_gb(weights_bytes)}; Bedrock imports "
                          f"{kind} models of less than {limit // 10**9} GB")

    tokenizer_config = load("tokenizer_config.json")
    has_template = _check_tokenizer_config(tokenizer_config, found) if tokenizer_config is not None else False

    testing = manifest.test_set is not None
    _check_converse(family, has_template, tokenizer_config is not None, names, testing, found)
    _check_region(region, family, found)

    test_records: int | None = None
    if manifest.test_set is not None:
        test_records = 0
        name = manifest.test_set
        if name in files:
            if files[name] > MAX_TEST_SET_BYTES:
                found.problem("file_too_large", f"the test set is {files[name]:,} bytes; at most "
                              f"{MAX_TEST_SET_BYTES:,} (the evaluation uses at most 1,000 records): keep a sample",
                              file=name)
            else:
                problems, test_records = check_test_set(read(name), name, manifest.labels)
                found.extend(problems)
    else:
        unused = [key for key in ("labels", "base_model_id", "evaluation") if getattr(manifest, key) is not None]
        if unused:
            found.warning("no_test_set", f"{_manifest_name()} sets {', '.join(unused)} but no test_set, so there is "
                          "no evaluation: add test_set (a JSONL file in the folder, listed in files) or remove "
                          f"{'it' if len(unused) == 1 else 'them'}", file=_manifest_name())

    found.close()
    converse = has_template and family is not None and family not in INVOKE_MODEL_ONLY_FAMILIES
    return ImportVerdict(accepted=not found.problems, problems=found.problems, warnings=found.warnings,
                         architecture=architecture, family=family, converse_supported=converse,
                         weights_bytes=weights_bytes, context_length=context, files_checked=len(names),
                         test_records=test_records)


def _manifest_name() -> str:
    from ft_pipeline.model_import.manifest import MANIFEST_NAME

    return MANIFEST_NAME


def _check_against_manifest(listed: dict[str, int], files: dict[str, int], found: _Findings) -> None:
    manifest = _manifest_name()
    for name in sorted(listed):
        if name not in files:
            found.problem("missing_file", f"{manifest} lists {name} ({listed[name]:,} bytes) but the folder does not "
                          "hold it: upload it, or remove it from the manifest", file=name)
        elif files[name] != listed[name]:
            found.problem("size_mismatch", f"{name} is {files[name]:,} bytes in the folder, {listed[name]:,} in "
                          f"{manifest}: an upload cut short or a file replaced; upload it again, or correct the "
                          "manifest", file=name)
    for name in sorted(set(files) - set(listed)):
        found.problem("unlisted_file", f"{name} is in the folder but not in {manifest}, and the import job would "
                      "import it: delete it, or list it in the manifest's files", file=name)


def _check_file_kinds(names: set[str], found: _Findings) -> None:
    top = {n for n in names if "/" not in n}
    rejected = sorted(n for n in names if n.lower().endswith(REJECTED_WEIGHT_SUFFIXES))
    for name in rejected:
        if _base(name) in ADAPTER_FILES:
            continue  # reported as an adapter below
        found.problem("not_safetensors", f"{name}: Bedrock imports weights in safetensors only, and pickled or other "
                      "formats are refused; save the model with save_pretrained(..., safe_serialization=True) and "
                      "delete this file (training state such as optimizer.pt or training_args.bin is not needed)",
                      file=name)
    adapter = sorted(n for n in top if n in ADAPTER_FILES)
    if adapter:
        found.problem("lora_adapter", f"{', '.join(adapter)}: this is a LoRA/PEFT adapter, and Bedrock imports full "
                      "models only; merge it into its base model (peft: model.merge_and_unload()), save the merged "
                      "model with save_pretrained, and upload that", file=adapter[0])
    markers = sorted(n for n in names if _base(n) in EMBEDDING_MARKERS or n.startswith("1_Pooling/"))
    if markers:
        found.problem("embedding_model", f"{markers[0]}: this is a sentence-transformers (embedding) model, and "
                      "Bedrock Custom Model Import does not import embedding models", file=markers[0])

    if "config.json" not in names:
        found.problem("missing_file", "config.json is required (the model's Hugging Face configuration): save the "
                      "model with save_pretrained", file="config.json")
    if "tokenizer_config.json" not in names:
        found.problem("missing_file", "tokenizer_config.json is required: save the tokenizer with "
                      "tokenizer.save_pretrained into the same folder", file="tokenizer_config.json")
    if not any(n.endswith(".safetensors") and not _base(n).startswith("adapter_model") for n in top):
        found.problem("missing_file", "no *.safetensors weights in the folder: save the model with "
                      "save_pretrained(..., safe_serialization=True)", file="*.safetensors")
    if "tokenizer.json" not in names and "tokenizer.model" not in names:
        found.problem("missing_file", "neither tokenizer.json nor tokenizer.model is in the folder: save a fast "
                      "tokenizer with tokenizer.save_pretrained, which writes tokenizer.json", file="tokenizer.json")


def _check_shards(names: set[str], files: dict[str, int], read: Callable[[str], bytes], found: _Findings) -> None:
    weights = {n for n in names if n.endswith(".safetensors") and "/" not in n
               and not n.startswith("adapter_model")}
    shards: dict[tuple[str, int], set[int]] = {}
    for name in weights:
        match = _SHARD.match(name)
        if match:
            shards.setdefault((match["stem"], int(match["total"])), set()).add(int(match["index"]))
    for (stem, total), indices in sorted(shards.items()):
        absent = [i for i in range(1, total + 1) if i not in indices]
        if absent:
            first = f"{stem}-{absent[0]:05d}-of-{total:05d}.safetensors"
            found.problem("bad_shard_index", f"the weights are in {total} shards, and {len(absent)} of them "
                          f"({first}{' and others' if len(absent) > 1 else ''}) are not in the folder: upload them",
                          file=first)

    indexes = sorted(n for n in names if n.endswith(".safetensors.index.json") and "/" not in n)
    if shards and not indexes:
        found.problem("bad_shard_index", "the weights are sharded (…-00001-of-0000N.safetensors) but "
                      "model.safetensors.index.json is not in the folder: upload it (save_pretrained writes it)",
                      file="model.safetensors.index.json")
    referenced: set[str] = set()
    for index in indexes:
        if index not in files:
            continue  # missing: reported against the manifest
        if files[index] > MAX_SMALL_FILE_BYTES:
            found.problem("file_too_large", f"{index} is {files[index]:,} bytes; a shard index is at most "
                          f"{MAX_SMALL_FILE_BYTES:,}", file=index)
            continue
        parsed = _parse_json_object(read(index), index, "bad_shard_index", found)
        if parsed is None:
            continue
        weight_map = parsed.get("weight_map")
        if not isinstance(weight_map, dict) or not weight_map:
            found.problem("bad_shard_index", f"{index} has no weight_map (tensor name → shard file): save the model "
                          "again with save_pretrained", file=index, field="weight_map")
            continue
        bad = next((v for v in weight_map.values() if not isinstance(v, str)), None)
        if bad is not None:
            found.problem("bad_shard_index", f"{index}: weight_map values must be shard file names, found "
                          f"{short(bad)}", file=index, field="weight_map")
            continue
        named = set(weight_map.values())
        referenced |= named
        for shard in sorted(named):
            if shard not in names:
                found.problem("bad_shard_index", f"{index} names the shard {short(shard)}, which is not in the "
                              "folder: upload it, or save the model again so that index and shards agree",
                              file=index, field="weight_map")
            elif not shard.endswith(".safetensors"):
                found.problem("bad_shard_index", f"{index} names the shard {short(shard)}, which is not a "
                              ".safetensors file", file=index, field="weight_map")
    if indexes:
        for name in sorted(weights - referenced):
            found.warning("unindexed_weights", f"{name} is not named by {indexes[0]}'s weight_map; the import may "
                          "ignore it, or load it as well: delete it unless it belongs to the model", file=name)


def _parse_json_object(data: bytes, name: str, code: str, found: _Findings) -> dict[str, Any] | None:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        found.problem(code, f"{name} is not UTF-8 text (byte {exc.start}): save it again", file=name)
        return None
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        found.problem(code, f"{name} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
                      file=name, line=exc.lineno)
        return None
    except (ValueError, RecursionError) as exc:
        found.problem(code, f"{name} is not valid JSON ({str(exc)[:100]})", file=name)
        return None
    if not isinstance(value, dict):
        found.problem(code, f"{name} must hold a JSON object, not a {type(value).__name__}", file=name)
        return None
    return value


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _is_encoder(architecture: str) -> bool:
    if architecture.endswith(_ENCODER_SUFFIXES):
        return True
    # a bare backbone (BertModel, LlamaModel, T5EncoderModel) has no language-model head; GPT2LMHeadModel has one
    return architecture.endswith("Model") and not architecture.endswith(("LMHeadModel", "ForConditionalGeneration"))


def _check_config(config: dict[str, Any], found: _Findings) -> tuple[str | None, str | None, int | None]:
    """(architecture, family, context length) from config.json, with what is wrong in it."""
    name = "config.json"
    supported = ", ".join(sorted(ARCHITECTURES))
    architectures = config.get("architectures")
    architecture: str | None = None
    family: str | None = None
    if not isinstance(architectures, list) or not architectures or not all(isinstance(a, str) for a in architectures):
        found.problem("bad_config", "config.json has no architectures list (e.g. [\"LlamaForCausalLM\"]); save the "
                      "model with save_pretrained, which writes it", file=name, field="architectures")
    else:
        architecture = architectures[0]
        family = ARCHITECTURES.get(architecture)
        if family is None:
            if _is_encoder(architecture):
                found.problem("embedding_model", f"config.json: architecture {short(architecture)} is an "
                              "embedding or encoder-only model (no language-model head); Bedrock Custom Model "
                              f"Import does not import those. Supported: {supported}", file=name, field="architectures")
            else:
                found.problem("unsupported_architecture", f"config.json: architecture {short(architecture)} is not "
                              f"one Bedrock Custom Model Import supports: {supported}", file=name,
                              field="architectures")
        elif len(architectures) > 1:
            found.warning("bad_config", f"config.json lists {len(architectures)} architectures; the check used the "
                          f"first, {architecture}", file=name, field="architectures")

    context, field = _context_length(config)
    if field is not None and context is None:
        found.problem("bad_config", f"config.json {field} must be a positive integer, found "
                      f"{short(_get(config, field))}", file=name, field=field)
    elif context is not None and context > MAX_CONTEXT_TOKENS:
        found.problem("context_too_long", f"config.json {field} is {context}; Bedrock imports models with a context "
                      f"of at most {MAX_CONTEXT_TOKENS} tokens (128K): set {field} to {MAX_CONTEXT_TOKENS} or less",
                      file=name, field=field)
    elif field is None and family is not None and family != "flan":  # T5's relative positions have no such limit
        found.warning("unknown_context", f"config.json gives no context length ({', '.join(CONTEXT_FIELDS)}); "
                      f"Bedrock takes at most {MAX_CONTEXT_TOKENS} tokens", file=name)

    version = config.get("transformers_version")
    parsed = _version(version)
    if parsed is not None and parsed > BEDROCK_TRANSFORMERS:
        found.warning("newer_transformers", f"config.json was written by transformers {short(version, 20)}, and "
                      f"Bedrock runs {'.'.join(map(str, BEDROCK_TRANSFORMERS))}: fields newer versions write (dtype "
                      "instead of torch_dtype, for one) may be ignored; save with transformers 4.51.3 if the import "
                      "fails or the model misbehaves", file=name, field="transformers_version")
    quantization = config.get("quantization_config")
    if quantization is not None and not (family == "gpt-oss" and isinstance(quantization, dict)
                                         and quantization.get("quant_method") == "mxfp4"):
        method = quantization.get("quant_method") if isinstance(quantization, dict) else None
        found.warning("quantized", f"config.json has a quantization_config{f' ({short(method, 20)})' if method else ''}"
                      "; Bedrock documents importing unquantized weights, so the import may fail: save the "
                      "unquantized (bf16/fp16) model if it does", file=name, field="quantization_config")
    return architecture, family, context


def _get(config: dict[str, Any], path: str) -> Any:
    value: Any = config
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _context_length(config: dict[str, Any]) -> tuple[int | None, str | None]:
    """(length, the field it came from): top level first, then text_config (Mllama, newer Qwen2-VL)."""
    for prefix in ("", "text_config."):
        for key in CONTEXT_FIELDS:
            field = prefix + key
            value = _get(config, field)
            if value is None:
                continue
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value, field
            return None, field
    return None, None


def _version(value: Any) -> tuple[int, ...] | None:
    if not isinstance(value, str):
        return None
    parts: list[int] = []
    for piece in value.split(".")[:3]:
        digits = re.match(r"\d+", piece)
        if digits is None:
            break
        parts.append(int(digits.group()))
    return tuple(parts) if parts else None


def _check_tokenizer_config(tokenizer_config: dict[str, Any], found: _Findings) -> bool:
    """Whether it has a chat template; what is wrong with its tokenizer class."""
    name = "tokenizer_config.json"
    tokenizer_class = tokenizer_config.get("tokenizer_class")
    supported = ", ".join(sorted(SUPPORTED_TOKENIZERS))
    if tokenizer_class is None:
        found.warning("no_tokenizer_class", f"{name} names no tokenizer_class; Bedrock lists the classes it "
                      f"supports ({supported}): set the one the model uses if the import fails",
                      file=name, field="tokenizer_class")
    elif tokenizer_class == "TokenizersBackend":
        found.problem("unsupported_tokenizer", f"{name} has tokenizer_class \"TokenizersBackend\" (written by "
                      "transformers 5), which Bedrock does not list: set it to \"PreTrainedTokenizerFast\"",
                      file=name, field="tokenizer_class")
    elif tokenizer_class not in SUPPORTED_TOKENIZERS:
        found.problem("unsupported_tokenizer", f"{name} has tokenizer_class {short(tokenizer_class)}, not one "
                      f"Bedrock supports: {supported}", file=name, field="tokenizer_class")
    template = tokenizer_config.get("chat_template")
    if isinstance(template, str):
        return bool(template.strip())
    if isinstance(template, list):  # named templates: [{"name": "default", "template": "..."}]
        return any(isinstance(t, dict) and isinstance(t.get("template"), str) and t["template"].strip()
                   for t in template)
    return False


def _check_converse(family: str | None, has_template: bool, has_tokenizer_config: bool, names: set[str],
                    testing: bool, found: _Findings) -> None:
    """Converse needs a chat template and a family that offers it; the evaluation of a test set calls Converse."""
    add = found.problem if testing else found.warning
    if family in INVOKE_MODEL_ONLY_FAMILIES:
        fix = ("the evaluation of the test set calls Converse: remove test_set from the manifest to import without "
               "evaluation" if testing else "the model can be called with InvokeModel only")
        add("invoke_model_only", f"Bedrock does not offer Converse for imported {family} models; {fix}")
        return
    if has_tokenizer_config and not has_template:
        separate = next((n for n in ("chat_template.jinja", "chat_template.json") if n in names), None)
        hint = (f"; the template is in {separate}, which Bedrock does not read: put it in tokenizer_config.json's "
                "chat_template" if separate else "; add the model's chat template to tokenizer_config.json "
                "(tokenizer.chat_template = ...; tokenizer.save_pretrained)")
        consequence = ("the evaluation of the test set calls Converse, which needs it" if testing
                       else "Converse will not be available, only InvokeModel")
        add("no_chat_template", f"tokenizer_config.json has no chat_template: {consequence}{hint}"
            + (", or remove test_set" if testing else ""), file="tokenizer_config.json", field="chat_template")
    elif family in CONVERSE_UNCERTAIN_FAMILIES and testing:
        found.warning("converse_uncertain", "Bedrock's guide says Converse is not offered for imported Qwen2.5 "
                      "models, which share Qwen2's architecture (Qwen2ForCausalLM): if this is Qwen2.5, the "
                      "evaluation's Converse calls may fail")


def _check_region(region: str, family: str | None, found: _Findings) -> None:
    if region not in REGIONS:
        found.problem("region_not_supported", f"Bedrock Custom Model Import is not offered in {short(region, 30)}; "
                      f"it is in {', '.join(sorted(REGIONS))}: deploy the stack in one of those")
        return
    allowed = FAMILY_REGIONS.get(family or "")
    if allowed is not None and region not in allowed:
        found.problem("region_not_supported", f"imported {family} models are offered in {', '.join(sorted(allowed))} "
                      f"only, not {region}")
