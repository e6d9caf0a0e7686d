"""Answers Bedrock Converse-shaped requests with a model folder as Bedrock Custom Model Import takes it
(config.json, *.safetensors, tokenizer files with a chat template), loaded from the local folder only.

    loaded = LoadedModel.load(folder)
    text, input_tokens, output_tokens = loaded.converse(system, [{"role": "user", "content": [{"text": "..."}]}], 16)

Decoding is greedy and deterministic; it stops at the model's end-of-sequence token(s).
"""

from __future__ import annotations

import threading
from pathlib import Path

_CACHE: dict[tuple[str, float], LoadedModel] = {}
_CACHE_LOCK = threading.Lock()
ROLES = ("user", "assistant")


def _folder_mtime(folder: Path) -> float:
    """The newest modification time of the folder and the files directly in it (a rewritten model reloads)."""
    times = [folder.stat().st_mtime]
    times += [p.stat().st_mtime for p in folder.iterdir() if p.is_file()]
    return max(times)


def _text_of(content, where: str) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise ValueError(f"{where}: content must be a list of content blocks")
    parts = []
    for block in content:
        if not isinstance(block, dict) or not isinstance(block.get("text"), str):
            raise ValueError(f"{where}: only text content blocks are supported by this model")
        parts.append(block["text"])
    return "".join(parts)


class LoadedModel:
    """A causal LM and its tokenizer, from one local folder."""

    def __init__(self, folder: Path, model, tokenizer):
        self.folder = folder
        self.model = model
        self.tokenizer = tokenizer
        self._lock = threading.Lock()
        self.max_positions = getattr(model.config, "max_position_embeddings", None)
        eos = model.generation_config.eos_token_id if model.generation_config is not None else None
        if eos is None:
            eos = model.config.eos_token_id
        if eos is None:
            eos = tokenizer.eos_token_id
        self.eos_token_ids = [eos] if isinstance(eos, int) else list(eos or [])
        pad = tokenizer.pad_token_id
        self.pad_token_id = pad if pad is not None else (self.eos_token_ids[0] if self.eos_token_ids else 0)

    @classmethod
    def load(cls, folder: Path) -> LoadedModel:
        """The folder's model, loaded once per (resolved path, newest file mtime); nothing is downloaded."""
        folder = Path(folder).resolve()
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(f"{folder}: no config.json (not a model folder)")
        key = (str(folder), _folder_mtime(folder))
        with _CACHE_LOCK:
            cached = _CACHE.get(key)
            if cached is not None:
                return cached
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            if not getattr(tokenizer, "chat_template", None):
                raise ValueError(f"{folder}: the tokenizer has no chat_template")
            model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True)
            model.eval()
            torch.manual_seed(0)
            loaded = cls(folder, model, tokenizer)
            for old in [k for k in _CACHE if k[0] == key[0]]:
                del _CACHE[old]
            _CACHE[key] = loaded
            return loaded

    def render(self, system: str | None, messages: list[dict]) -> str:
        """The prompt text: the folder's chat template over the system prompt and the Converse messages."""
        chat = [{"role": "system", "content": system}] if system else []
        for index, message in enumerate(messages):
            role = message.get("role") if isinstance(message, dict) else None
            if role not in ROLES:
                raise ValueError(f"messages[{index}]: role must be one of {ROLES}")
            chat.append({"role": role, "content": _text_of(message.get("content"), f"messages[{index}]")})
        if not messages or chat[-1]["role"] != "user":
            raise ValueError("messages must end with a user message")
        return self.tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)

    def converse(self, system: str | None, messages: list[dict], max_tokens: int) -> tuple[str, int, int]:
        """(answer text, input tokens, output tokens) for a Converse request, greedy decoding. The output count
        includes the end-of-sequence token when the model produced one."""
        import torch

        if max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")
        prompt = self.render(system, messages)
        input_ids = self.tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
        input_tokens = int(input_ids.shape[1])
        if self.max_positions is not None:
            room = self.max_positions - input_tokens
            if room < 1:
                raise ValueError(f"the prompt is {input_tokens} tokens; this model's context is {self.max_positions}")
            max_tokens = min(max_tokens, room)
        with self._lock, torch.inference_mode():
            output = self.model.generate(
                input_ids=input_ids, attention_mask=torch.ones_like(input_ids), max_new_tokens=max_tokens,
                do_sample=False, num_beams=1, eos_token_id=self.eos_token_ids or None,
                pad_token_id=self.pad_token_id)
        generated = output[0, input_tokens:].tolist()
        stop = len(generated)
        for i, token in enumerate(generated):
            if token in self.eos_token_ids:
                stop = i
                break
        output_tokens = min(len(generated), stop + 1)
        text = self.tokenizer.decode(generated[:stop], skip_special_tokens=True).strip()
        return text, input_tokens, output_tokens
