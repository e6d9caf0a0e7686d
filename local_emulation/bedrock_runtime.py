"""Converse, emulated where moto has none: the evaluation's questions to the tuned model and its base model.

The operation is added to moto's bedrock-runtime responder, so boto3 calls it over botocore's real request and
response shapes (bedrock-runtime 2023-09-30), errors included.

- A deployment's or a provisioned throughput's ARN answers with the emulated custom model behind it (the
  classifier the emulated job trained), once the resource is Active / InService; otherwise an error, as AWS does.
- An imported model's ARN answers with the model itself (`bedrock_import.py`): the uploaded folder, run locally.
- A base model's id answers with an honest stand-in for the untuned model: the same learner given only a
  handful of examples per label (few-shot), built when the emulated job trained. Neither is an LLM.
- `delay_s` makes every answer take that long (the bench's fixed-latency model); `throttle_next(n)` refuses
  the next n calls with ThrottlingException, which the client's adaptive retries absorb.
"""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import unquote

from moto.bedrock.exceptions import BedrockClientError, ResourceNotFoundException, ValidationException
from moto.bedrockruntime.responses import BedrockRuntimeResponse
from moto.core.responses import ActionResult

_active: ConverseEmulator | None = None


class ThrottlingException(BedrockClientError):
    def __init__(self, msg: str):
        super().__init__("ThrottlingException", msg)


class ConverseEmulator:
    def __init__(self, bedrock: Any) -> None:
        self.bedrock = bedrock  # the BedrockEmulator: its models and its serving resources
        self.base_models: dict[str, Any] = {}  # base model id -> few-shot stand-in
        self.delay_s = 0.0
        self.calls = 0
        self._throttle = 0
        self._lock = threading.Lock()
        self._saved: Any = None

    def install(self) -> None:
        global _active
        _active = self
        self._saved = getattr(BedrockRuntimeResponse, "converse", None)
        BedrockRuntimeResponse.converse = _converse  # type: ignore[attr-defined]

    def uninstall(self) -> None:
        global _active
        if self._saved is None:
            delattr(BedrockRuntimeResponse, "converse")
        else:
            BedrockRuntimeResponse.converse = self._saved  # type: ignore[attr-defined]
        _active = None

    def throttle_next(self, calls: int) -> None:
        self._throttle = calls

    def answer(self, model_id: str, prompt: str, system: str | None = None, max_tokens: int = 512) -> str:
        with self._lock:
            self.calls += 1
            if self._throttle > 0:
                self._throttle -= 1
                raise ThrottlingException("Too many requests, please wait before trying again.")
        if self.delay_s:
            time.sleep(self.delay_s)
        if ":imported-model/" in model_id:  # the folder the user uploaded, run for real
            return self.bedrock.imports.converse(model_id, system, prompt, max_tokens)[0]
        if ":custom-model-deployment/" in model_id or ":provisioned-model/" in model_id:
            mode = "on-demand" if ":custom-model-deployment/" in model_id else "provisioned"
            resource = self.bedrock.serving.find(mode, model_id)  # ResourceNotFoundException once deleted
            if self.bedrock.serving._status(resource) not in ("Active", "InService"):
                raise ValidationException(f"{model_id} is not ready for inference")
            model = self.bedrock.models.get(resource.model_arn)
            if model is None:
                raise ValidationException(f"{resource.model_arn} has no weights to serve")
            return model.answer(prompt)
        model = self.base_models.get(model_id)
        if model is None:
            raise ResourceNotFoundException(f"The provided model identifier {model_id} is invalid.")
        return model.answer(prompt)


def _converse(self: BedrockRuntimeResponse) -> ActionResult:
    if _active is None:
        raise RuntimeError("the Converse emulator is not installed")
    model_id = unquote(self._get_param("modelId") or self.path.split("/model/", 1)[-1].rsplit("/converse", 1)[0])
    messages = self._get_param("messages") or []
    config = self._get_param("inferenceConfig") or {}
    if not messages or messages[-1].get("role") != "user":
        raise ValidationException("A conversation must end with a user message.")
    prompt = "\n".join(block.get("text", "") for block in messages[-1].get("content", []))
    system = "\n".join(block.get("text", "") for block in self._get_param("system") or []) or None
    max_tokens = int(config.get("maxTokens") or 512)
    started = time.perf_counter()
    text = _active.answer(model_id, prompt, system, max_tokens)
    words = text.split()
    if len(words) > max_tokens:  # about a token a word: the budget cuts the answer, as AWS does
        text, stop = " ".join(words[:max_tokens]), "max_tokens"
    else:
        stop = "end_turn"
    usage = {"inputTokens": max(1, len(prompt) // 4), "outputTokens": max(1, len(text) // 4)}
    usage["totalTokens"] = usage["inputTokens"] + usage["outputTokens"]
    return ActionResult({"output": {"message": {"role": "assistant", "content": [{"text": text}]}},
                         "stopReason": stop, "usage": usage,
                         "metrics": {"latencyMs": int((time.perf_counter() - started) * 1000)}})
