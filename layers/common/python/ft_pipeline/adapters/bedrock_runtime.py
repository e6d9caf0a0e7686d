"""Converse: one question to a model (a deployed custom model's ARN, or a base model's on-demand id).

Request fields from botocore's service model (bedrock-runtime 2023-09-30): `modelId`, `messages`, `system`,
`inferenceConfig` (`maxTokens`, `temperature`); the answer's text, `usage` (inputTokens, outputTokens) and
`metrics.latencyMs`. Throttling is retried by the client's adaptive mode; what still fails raises.
"""

from __future__ import annotations

import time

from ft_pipeline.adapters.clients import model_client
from ft_pipeline.ports import ModelAnswer


class BedrockRuntimeApi:
    def converse(self, model_id: str, prompt: str, system: str | None, max_tokens: int) -> ModelAnswer:
        request = {"modelId": model_id, "messages": [{"role": "user", "content": [{"text": prompt}]}],
                   "inferenceConfig": {"maxTokens": max_tokens, "temperature": 0.0}}
        if system:
            request["system"] = [{"text": system}]
        started = time.perf_counter()
        answer = model_client().converse(**request)
        elapsed_ms = (time.perf_counter() - started) * 1000
        blocks = answer.get("output", {}).get("message", {}).get("content", [])
        usage = answer.get("usage", {})
        return ModelAnswer(text="".join(b.get("text", "") for b in blocks),
                           latency_ms=float(answer.get("metrics", {}).get("latencyMs", elapsed_ms)),
                           input_tokens=int(usage.get("inputTokens", 0)),
                           output_tokens=int(usage.get("outputTokens", 0)))
