"""Shared fixtures. No test calls AWS: the harness starts moto, and unit tests use no clients at all."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ft_pipeline.catalogue.options import DatasetOptions
from ft_pipeline.dataset.report import ValidationReport
from ft_pipeline.dataset.validate import validate_dataset

REPO = Path(__file__).resolve().parent.parent
HEADLINES = REPO / "data" / "headlines"
BAD_INPUTS = Path(__file__).parent / "fixtures" / "bad_inputs"
EVENTS = REPO / "events"


@pytest.fixture
def validate(tmp_path: Path) -> Callable[..., tuple[ValidationReport, Path]]:
    """Validate bytes with the given options; returns the report and the output folder."""

    def run(data: bytes, name: str = "upload.jsonl", **options: Any) -> tuple[ValidationReport, Path]:
        out = tmp_path / f"out-{len(list(tmp_path.iterdir()))}"
        report = validate_dataset(io.BytesIO(data), name=name, dataset_id="test-dataset",
                                  options=DatasetOptions(**options), out_dir=out)
        return report, out

    return run


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def conversation(user: str, assistant: str) -> dict[str, Any]:
    return {"schemaVersion": "bedrock-conversation-2024",
            "messages": [{"role": "user", "content": [{"text": user}]},
                         {"role": "assistant", "content": [{"text": assistant}]}]}


def jsonl(records: list[Any]) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records).encode()


@pytest.fixture
def pipeline() -> Iterator[Any]:
    from local_emulation.harness import LocalPipeline

    with LocalPipeline(log_level="WARNING") as local:
        yield local
