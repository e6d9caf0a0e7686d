"""A tiny DistilBERT built from a config, with a WordPiece tokenizer trained on the bundled headlines, trained
briefly by train.py itself: what the classifier tests serve and measure. Nothing is downloaded."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from tests.conftest import HEADLINES, REPO

ML = REPO / "ml" / "headline_classifier"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"headline_{name}", ML / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def build_tiny_encoder(target: Path) -> Path:
    import csv

    from tokenizers import BertWordPieceTokenizer
    from tokenizers.processors import TemplateProcessing
    from transformers import DistilBertConfig, DistilBertModel, PreTrainedTokenizerFast

    with (HEADLINES / "train.csv").open(encoding="utf-8", newline="") as f:
        texts = [row[0] for row in list(csv.reader(f))[1:]]
    wordpiece = BertWordPieceTokenizer(lowercase=True)
    wordpiece.train_from_iterator(texts, vocab_size=4000, min_frequency=2)
    cls, sep = wordpiece.token_to_id("[CLS]"), wordpiece.token_to_id("[SEP]")
    wordpiece._tokenizer.post_processor = TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    target.mkdir(parents=True, exist_ok=True)
    PreTrainedTokenizerFast(tokenizer_object=wordpiece._tokenizer, unk_token="[UNK]", pad_token="[PAD]",
                            cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                            model_input_names=["input_ids", "attention_mask"]).save_pretrained(target)
    config = DistilBertConfig(vocab_size=wordpiece.get_vocab_size(), dim=64, n_layers=2, n_heads=2, hidden_dim=128,
                              max_position_embeddings=128)
    DistilBertModel(config).save_pretrained(target)
    return target


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A trained tiny classifier: (model dir). Built once per test session (about half a minute)."""
    base = build_tiny_encoder(tmp_path_factory.mktemp("tiny-encoder"))
    model_dir = tmp_path_factory.mktemp("tiny-classifier")
    train = load("train")
    args = train.parse_args(["--model-name-or-path", str(base), "--train-dir", str(HEADLINES / "train.csv"),
                             "--validation-dir", str(HEADLINES / "validation.csv"), "--model-dir", str(model_dir),
                             "--epochs", "2", "--batch-size", "32", "--learning-rate", "1e-3", "--max-length", "48"])
    train.train(args)
    return model_dir
