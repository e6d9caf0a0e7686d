"""`make validate`: the same outputs on a local file, and an exit status a script can rely on."""

import json

from local_emulation.validate_file import main
from tests.conftest import BAD_INPUTS, HEADLINES


def test_valid_file_writes_every_output_and_exits_0(tmp_path, capsys):
    out = tmp_path / "out"
    assert main([str(HEADLINES / "validation.csv"), "--out", str(out),
                 "--base-model", "meta.llama3-1-8b-instruct-v1"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["rejected.jsonl", "report.json", "test.jsonl", "train.jsonl",
                                                      "validation.jsonl"]
    assert json.loads((out / "report.json").read_text())["base_model"] == "meta.llama3-1-8b-instruct-v1:0:128k"
    assert "VALIDATED" in capsys.readouterr().out


def test_rejected_dataset_exits_1_and_bad_options_exit_2(tmp_path):
    assert main([str(BAD_INPUTS / "one_label.csv"), "--out", str(tmp_path / "a")]) == 1
    manifest = tmp_path / "m.json"
    manifest.write_text('{"hyperparameters": {"epochCount": 99}}')
    assert main([str(HEADLINES / "validation.csv"), "--out", str(tmp_path / "b"), "--options", str(manifest)]) == 2


def test_a_manifest_overrides_the_base_model_given_on_the_command_line(tmp_path):
    manifest = tmp_path / "m.json"
    manifest.write_text('{"base_model": "meta.llama3-1-70b-instruct-v1", "deployment": {"mode": "none"}}')
    out = tmp_path / "out"
    main([str(HEADLINES / "validation.csv"), "--out", str(out), "--options", str(manifest),
          "--base-model", "amazon.nova-pro-v1:0:300k"])
    assert json.loads((out / "report.json").read_text())["base_model"] == "meta.llama3-1-70b-instruct-v1:0:128k"


def test_a_missing_options_file_is_an_error_not_the_defaults(tmp_path, capsys):
    assert main([str(HEADLINES / "validation.csv"), "--out", str(tmp_path / "o"), "--options", "missing.json"]) == 2
    assert "missing.json: no such file" in capsys.readouterr().err


def test_outputs_can_never_overwrite_the_input(tmp_path, capsys):
    data = tmp_path / "train.jsonl"
    data.write_bytes((HEADLINES / "validation.csv").read_bytes())
    before = data.read_bytes()
    assert main([str(data), "--out", str(data)]) == 2  # the input itself
    assert main([str(data), "--out", str(tmp_path)]) == 2  # its folder: train.jsonl is an output name
    (tmp_path / "a-file").write_text("x")
    assert main([str(data), "--out", str(tmp_path / "a-file")]) == 2
    err = capsys.readouterr().err
    assert "is the input file itself" in err and "not a folder" in err and "Traceback" not in err
    assert data.read_bytes() == before
