"""The ONNX Runtime path of the headline classifier: what train.py ships (model.onnx, int8 only within 0.5 points
of accuracy, the choice in metrics.json, code/requirements.txt), that inference.py answers as torch does without
importing torch, and that it falls back to torch when it cannot serve ONNX. The tiny model of conftest.py."""

import csv
import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest

from tests.conftest import HEADLINES, REPO
from tests.ml.conftest import ML, load

LABELS = ["business", "entertainment", "health", "science"]


@pytest.fixture(scope="module")
def inference():
    return load("inference")


@pytest.fixture(scope="module")
def train():
    return load("train")


def headlines(n: int) -> list[str]:
    with (HEADLINES / "validation.csv").open(encoding="utf-8", newline="") as f:
        return [r[0] for r in list(csv.reader(f))[1:n + 1]]


def answers(inference, model, texts):
    return inference.predict_fn({"headlines": texts, "single": False}, model)["results"]


def copy_model(source, target, onnx=True):
    shutil.copytree(source, target, ignore=None if onnx else shutil.ignore_patterns("*.onnx"))
    return target


def ops(path) -> set[str]:
    import onnx

    return {node.op_type for node in onnx.load(str(path)).graph.node}


@pytest.fixture(scope="module")
def fp32_model(tiny_model, train, tmp_path_factory):
    """The tiny model with an fp32 export as model.onnx (what train.py ships when int8 costs too much)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    target = copy_model(tiny_model, tmp_path_factory.mktemp("fp32") / "model", onnx=False)
    net = AutoModelForSequenceClassification.from_pretrained(str(tiny_model)).eval()
    train.export_onnx(net, AutoTokenizer.from_pretrained(str(tiny_model)), target / "model.onnx", 48)
    train.tag_precision(target / "model.onnx", "fp32")
    return target


@pytest.fixture(scope="module")
def torch_served(tiny_model, inference):
    os.environ["HEADLINE_BACKEND"] = "torch"
    try:
        return inference.model_fn(str(tiny_model))
    finally:
        del os.environ["HEADLINE_BACKEND"]


# --- what train.py ships ----------------------------------------------------------------------------------


def test_model_tar_carries_the_onnx_model_its_requirements_and_the_recorded_choice(tiny_model, tmp_path):
    # SageMaker packs SM_MODEL_DIR as model.tar.gz; the inference image installs code/requirements.txt
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:
        for path in tiny_model.iterdir():
            tar.add(path, arcname=path.name)
    with tarfile.open(tmp_path / "model.tar.gz") as tar:
        names = set(tar.getnames())
        requirements = tar.extractfile("code/requirements.txt").read().decode()
    assert {"model.onnx", "code/inference.py", "code/requirements.txt", "config.json", "tokenizer.json",
            "model.safetensors", "metrics.json"} <= names
    assert "onnxruntime==1.32.0" in requirements.split()
    serving = json.loads((tiny_model / "metrics.json").read_text())["serving"]
    accuracy = serving["validation_accuracy"]
    assert set(accuracy) == {"torch_fp32", "onnx_fp32", "onnx_int8"} and all(0 < a <= 1 for a in accuracy.values())
    assert serving["int8_loss_points"] == pytest.approx((accuracy["torch_fp32"] - accuracy["onnx_int8"]) * 100)
    assert serving["max_int8_loss_points"] == 0.5
    assert serving["precision"] == ("int8" if serving["int8_loss_points"] <= 0.5 else "fp32")
    assert abs(accuracy["onnx_fp32"] - accuracy["torch_fp32"]) <= 0.001  # the export is the same model
    # the shipped file is what metrics.json says it is
    assert ("MatMulInteger" in ops(tiny_model / "model.onnx")) == (serving["precision"] == "int8")


@pytest.mark.parametrize(("fp32", "int8", "chosen"), [
    (0.800, 0.795, "int8"),   # 0.5 points: allowed
    (0.800, 0.810, "int8"),   # better
    (0.800, 0.7949, "fp32"),  # 0.51 points: too much
    (0.800, None, "fp32"),    # no validation split: nothing to check int8 against
])
def test_int8_only_within_half_a_point_of_accuracy(train, fp32, int8, chosen):
    precision, reason = train.choose_precision(fp32, int8)
    assert precision == chosen and reason


def test_int8_that_costs_accuracy_is_not_shipped(tiny_model, train, tmp_path, monkeypatch):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    target = copy_model(tiny_model, tmp_path / "model", onnx=False)
    net = AutoModelForSequenceClassification.from_pretrained(str(tiny_model)).eval()
    measured = {}
    real = train.onnx_accuracy

    def accuracy_with_a_worse_int8(path, *args):  # int8 measured, then reported a full point below fp32
        measured[path.name] = real(path, *args)
        return measured["fp32.onnx"] - 0.01 if path.name == "int8.onnx" else measured[path.name]

    monkeypatch.setattr(train, "onnx_accuracy", accuracy_with_a_worse_int8)
    rows = [(t, net.config.label2id[c]) for t, c in train.read_rows(HEADLINES / "validation.csv")]
    torch_accuracy = json.loads((tiny_model / "metrics.json").read_text())["serving"]["validation_accuracy"][
        "torch_fp32"]
    serving = train.build_serving(net, AutoTokenizer.from_pretrained(str(tiny_model)), target, rows, 48, 128,
                                  torch_accuracy)
    assert set(measured) == {"fp32.onnx", "int8.onnx"}
    assert serving["precision"] == "fp32" and "more than 0.5" in serving["reason"]
    assert serving["int8_loss_points"] > 0.5
    assert "MatMulInteger" not in ops(target / "model.onnx") and "MatMul" in ops(target / "model.onnx")
    assert inference_precision(target) == "fp32"


def inference_precision(model_dir) -> str:
    return load("inference").model_fn(str(model_dir))["precision"]


# --- serving --------------------------------------------------------------------------------------------------


def test_onnx_fp32_answers_as_torch_does(fp32_model, torch_served, inference):
    served = inference.model_fn(str(fp32_model))
    assert (served["backend"], served["precision"]) == ("onnx", "fp32")
    texts = headlines(300)
    for onnx_answer, torch_answer in zip(answers(inference, served, texts), answers(inference, torch_served, texts),
                                         strict=True):
        assert onnx_answer["predicted_label"] == torch_answer["predicted_label"]
        for label in LABELS:
            assert onnx_answer["probabilities"][label] == pytest.approx(torch_answer["probabilities"][label],
                                                                        abs=1e-4)


def test_onnx_int8_agrees_with_torch_closely(fp32_model, train, torch_served, inference, tmp_path):
    target = copy_model(fp32_model, tmp_path / "model", onnx=False)
    train.quantize_int8(fp32_model / "model.onnx", target / "model.onnx")
    train.tag_precision(target / "model.onnx", "int8")
    served = inference.model_fn(str(target))
    assert (served["backend"], served["precision"]) == ("onnx", "int8")
    texts = headlines(300)
    ours, reference = answers(inference, served, texts), answers(inference, torch_served, texts)
    agree = sum(a["predicted_label"] == b["predicted_label"] for a, b in zip(ours, reference, strict=True))
    assert agree >= 0.97 * len(texts)
    assert max(abs(a["probabilities"][k] - b["probabilities"][k])
               for a, b in zip(ours, reference, strict=True) for k in LABELS) < 0.1


def test_onnx_path_loads_without_torch_or_transformers(tiny_model):
    probe = ("import json, sys, importlib.util as u\n"
             "s = u.spec_from_file_location('inference', sys.argv[1]); m = u.module_from_spec(s)\n"
             "s.loader.exec_module(m)\n"
             "served = m.model_fn(sys.argv[2])\n"
             "body = m.input_fn(b'{\"inputs\": \"Fed raises rates\"}')\n"
             "answer = json.loads(m.output_fn(m.predict_fn(body, served)))\n"
             "print(json.dumps({'backend': served['backend'], 'label': answer['predicted_label'],\n"
             "                  'loaded': sorted(n for n in ('torch', 'transformers') if n in sys.modules)}))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADLINE_")}
    done = subprocess.run([sys.executable, "-c", probe, str(ML / "inference.py"), str(tiny_model)], env=env,
                          capture_output=True, text=True, check=True, cwd=REPO)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["backend"] == "onnx" and result["label"] in LABELS
    assert result["loaded"] == []  # importing torch was most of model_fn's 5 s


def test_torch_serves_when_the_model_has_no_onnx_file(tiny_model, tmp_path, inference, torch_served):
    served = inference.model_fn(str(copy_model(tiny_model, tmp_path / "model", onnx=False)))
    assert served["backend"] == "torch"
    texts = headlines(50)
    assert [a["predicted_label"] for a in answers(inference, served, texts)] == [
        a["predicted_label"] for a in answers(inference, torch_served, texts)]


def test_torch_serves_when_onnxruntime_is_not_installed(tiny_model, inference, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` raises ImportError
    served = inference.model_fn(str(tiny_model))
    assert served["backend"] == "torch"
    assert answers(inference, served, ["New flu vaccine"])[0]["predicted_label"] in LABELS


def test_backend_can_be_forced_and_says_why_it_cannot(tiny_model, tmp_path, inference, monkeypatch):
    monkeypatch.setenv("HEADLINE_BACKEND", "onnx")
    with pytest.raises(RuntimeError, match="no model.onnx"):
        inference.model_fn(str(copy_model(tiny_model, tmp_path / "model", onnx=False)))
    monkeypatch.setenv("HEADLINE_BACKEND", "tensorflow")
    with pytest.raises(ValueError, match="auto, onnx or torch"):
        inference.model_fn(str(tiny_model))


def test_threads_are_this_workers_share_of_the_cpus(inference, monkeypatch):
    monkeypatch.delenv("HEADLINE_THREADS", raising=False)
    monkeypatch.setattr(inference, "available_cpus", lambda: 4)
    monkeypatch.setenv("SAGEMAKER_MODEL_SERVER_WORKERS", "2")
    assert inference.thread_count() == 2
    monkeypatch.setenv("SAGEMAKER_MODEL_SERVER_WORKERS", "8")
    assert inference.thread_count() == 1
    monkeypatch.delenv("SAGEMAKER_MODEL_SERVER_WORKERS")
    assert inference.thread_count() == 4
    monkeypatch.setenv("HEADLINE_THREADS", "3")
    assert inference.thread_count() == 3


def test_cpu_count_honours_a_cgroup_quota(inference, tmp_path, monkeypatch):
    real_path = inference.Path
    (tmp_path / "cpu.max").write_text("150000 100000\n")  # 1.5 vCPU: a serverless endpoint's kind of quota

    def fake(path):
        return tmp_path / "cpu.max" if str(path) == "/sys/fs/cgroup/cpu.max" else real_path(path)
    monkeypatch.setattr(inference, "Path", fake)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))
    assert inference.available_cpus() == 2
