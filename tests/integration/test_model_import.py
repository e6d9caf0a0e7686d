"""Bring your own model on the local stack: a folder under models/ → the checks → the emulated import job → the
ledger's run → (with a test set) the same evaluation as a trained model. Assertions are on the emulated world: the
import jobs Bedrock holds, the buses, the bucket, the notifications."""

import functools
import json
import tempfile
from pathlib import Path

import pytest

from local_emulation.harness import LocalPipeline
from tests.conftest import HEADLINES
from tests.integration.test_deploy_and_teardown import once, ours
from tests.integration.test_training_lifecycle import notifications

FOLDER = "models/tiny-llama/"
READY = 20  # minutes: an emulated import job completes after 15; the sweeper polls every 10
CONFIG = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "max_position_embeddings": 2048,
          "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 256, "transformers_version": "4.51.3"}
TOKENIZER_CONFIG = {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>", "eos_token": "</s>",
                    "chat_template": "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"}


def folder_files(**overrides):
    files = {"config.json": json.dumps(CONFIG).encode(), "tokenizer_config.json": json.dumps(TOKENIZER_CONFIG).encode(),
             "tokenizer.json": b'{"version": "1.0"}', "model.safetensors": b"\0" * 4096}
    files.update(overrides)
    return {name: body for name, body in files.items() if body is not None}


def manifest_for(files, **fields):
    return json.dumps({"files": {name: len(body) for name, body in files.items()}} | fields).encode()


def upload_folder(pipeline, files, manifest=None, order="manifest-first", folder=FOLDER):
    manifest = manifest if manifest is not None else manifest_for(files)
    names = list(files)
    steps = {"manifest-first": [None, *names], "manifest-last": [*names, None],
             "manifest-middle": [*names[:2], None, *names[2:]]}[order]
    for name in steps:
        if name is None:
            pipeline.upload(folder + "import-manifest.json", manifest)
        else:
            pipeline.upload(folder + name, files[name])
        pipeline.run()


def import_jobs(pipeline):
    return list(pipeline.bedrock.imports.jobs.values())


def the_import(pipeline):
    (run,) = [r for r in pipeline.ledger() if r.get("kind") == "import"]
    return run


@pytest.mark.parametrize("order", ["manifest-first", "manifest-last", "manifest-middle"])
def test_a_complete_folder_is_imported_once_in_any_upload_order_with_every_event_delivered_twice(order):
    with LocalPipeline(deliveries=2) as pipeline:
        files = folder_files()
        upload_folder(pipeline, files, order=order)
        (job,) = import_jobs(pipeline)
        run = the_import(pipeline)
        assert run["status"] == "IMPORTING" and run["model_import"]["job_arn"] == job.arn
        assert job.s3_uri == f"s3://{pipeline.data_bucket}/{FOLDER}" and "ModelImportRole" in job.role_arn
        assert {t["key"]: t["value"] for t in job.tags}["run-id"] == run["run_id"]
        pipeline.advance(minutes=READY)
        run = the_import(pipeline)
        assert run["status"] == "COMPLETED" and job.status == "Completed"
        assert run["model_import"]["imported_model_arn"] == job.model_arn
        once(pipeline, "ImportStarted")
        imported = once(pipeline, "ModelImported")["detail"]
        assert imported["model_import"]["imported_model_arn"] == job.model_arn and imported["test_data_uri"] is None
        completed = once(pipeline, "RunCompleted")["detail"]
        assert "not evaluated" in completed["outcome"] and completed["custom_model_arn"] == job.model_arn
        claim = ["import_claimed"] if order == "manifest-last" else ["import_waiting", "import_waiting_claimed"]
        assert [t["transition"] for t in run["timeline"]] == [*claim, "import_checked", "import_started",
                                                             "import_completed", "imported_run_completed"]
        # the user's folder is read, never written to; the verdict lies beside the run's other files
        assert sorted(pipeline.list_keys(FOLDER)) == sorted(FOLDER + n for n in [*files, "import-manifest.json"])
        check = json.loads(pipeline.read_object(f"datasets/{run['run_id']}/import/import-check.json"))
        assert check["accepted"] and check["verdict"]["architecture"] == "LlamaForCausalLM"


def test_a_half_uploaded_folder_waits_and_is_imported_when_its_last_file_arrives(pipeline):
    files = folder_files()
    pipeline.upload(FOLDER + "import-manifest.json", manifest_for(files))
    for name in list(files)[:-1]:  # the weights take hours to arrive
        pipeline.upload(FOLDER + name, files[name])
    pipeline.run()
    pipeline.advance(hours=2)
    run = the_import(pipeline)
    assert run["status"] == "IMPORT_WAITING" and run["model_import"]["waiting_for"] == ["model.safetensors"]
    assert import_jobs(pipeline) == [] and ours(pipeline, "ModelRejected") == []
    pipeline.upload(FOLDER + "model.safetensors", files["model.safetensors"])  # the last file: now it starts
    pipeline.run()
    assert len(import_jobs(pipeline)) == 1 and the_import(pipeline)["status"] == "IMPORTING"


def test_a_listed_file_that_never_arrives_is_reported_at_the_deadline_with_what_the_folder_holds(pipeline):
    notifications(pipeline)
    files = folder_files()
    manifest = json.loads(manifest_for(files))
    manifest["files"]["model.safetensor"] = manifest["files"].pop("model.safetensors")  # a typo in the manifest
    upload_folder(pipeline, files, json.dumps(manifest).encode())
    assert the_import(pipeline)["status"] == "IMPORT_WAITING"
    pipeline.advance(hours=23)
    assert the_import(pipeline)["status"] == "IMPORT_WAITING"  # the upload may still be going on
    pipeline.advance(hours=2)
    run = the_import(pipeline)
    assert run["status"] == "REJECTED" and import_jobs(pipeline) == []
    reasons = run["validation"]["reasons"]
    assert reasons[0].startswith("not every file the manifest lists arrived by")
    assert any("model.safetensor " in r or "model.safetensor (" in r for r in reasons), reasons  # missing
    assert any("model.safetensors" in r and "not in" in r for r in reasons), reasons  # present, not listed
    assert once(pipeline, "ModelRejected") and any("was not imported" in n for n in notifications(pipeline))


def test_a_new_model_uploaded_into_an_old_folder_manifest_first_waits_for_its_own_files(pipeline):
    upload_folder(pipeline, folder_files())
    pipeline.advance(minutes=READY)
    new = folder_files(**{"model.safetensors": b"\1" * 8192})  # retrained: other weights, another size
    upload_folder(pipeline, new, manifest_for(new, version="2"), order="manifest-first")
    runs = sorted((r for r in pipeline.ledger() if r["kind"] == "import"), key=lambda r: r["created_at"])
    assert [r["status"] for r in runs] == ["COMPLETED", "IMPORTING"]  # not rejected for the old file's size
    assert [t["transition"] for t in runs[1]["timeline"]][:2] == ["import_waiting", "import_waiting_claimed"]
    assert len(import_jobs(pipeline)) == 2


def test_a_folder_that_breaks_the_rules_is_rejected_with_every_problem_and_nothing_reaches_bedrock(pipeline):
    notifications(pipeline)
    config = dict(CONFIG, architectures=["BertForSequenceClassification"], model_type="bert")
    tokenizer_config = {k: v for k, v in TOKENIZER_CONFIG.items() if k != "chat_template"}
    files = folder_files(**{"config.json": json.dumps(config).encode(),
                            "tokenizer_config.json": json.dumps(tokenizer_config).encode(),
                            "pytorch_model.bin": b"\0" * 100, "test.jsonl": b'{"prompt": "a", "completion": "b"}\n'})
    upload_folder(pipeline, files, manifest_for(files, test_set="test.jsonl"))
    run = the_import(pipeline)
    assert run["status"] == "REJECTED" and import_jobs(pipeline) == []
    reasons = run["validation"]["reasons"]
    assert any("pytorch_model.bin" in r for r in reasons)  # safetensors only
    assert any("BertForSequenceClassification" in r for r in reasons)  # not an architecture Bedrock imports
    assert any("chat_template" in r for r in reasons)  # the test set needs Converse
    event = once(pipeline, "ModelRejected")["detail"]
    assert event["reasons"] == reasons and event["folder_uri"] == f"s3://{pipeline.data_bucket}/{FOLDER}"
    check = json.loads(pipeline.read_object(f"datasets/{run['run_id']}/import/import-check.json"))
    assert not check["accepted"] and len(check["problems"]) == len(reasons)
    (note,) = [n for n in notifications(pipeline) if "was not imported" in n]
    assert "pytorch_model.bin" in note and "import-check.json" in note


def test_a_manifest_that_is_not_json_is_rejected_with_its_line(pipeline):
    files = folder_files()
    for name, body in files.items():
        pipeline.upload(FOLDER + name, body)
    pipeline.upload(FOLDER + "import-manifest.json", b'{"files": {\n  "config.json": 12,\n}\n')
    pipeline.run()
    run = the_import(pipeline)
    assert run["status"] == "REJECTED" and import_jobs(pipeline) == []
    assert any("import-manifest.json" in r and "line" in r for r in run["validation"]["reasons"]), run["validation"]


def test_a_file_whose_size_never_matches_the_manifest_is_rejected_at_the_deadline(pipeline):
    files = folder_files()
    manifest = json.loads(manifest_for(files))
    manifest["files"]["model.safetensors"] += 1
    upload_folder(pipeline, files, json.dumps(manifest).encode())
    assert the_import(pipeline)["status"] == "IMPORT_WAITING"  # a newer upload of that file may be on its way
    pipeline.advance(hours=25)
    run = the_import(pipeline)
    assert run["status"] == "REJECTED" and any("model.safetensors" in r for r in run["validation"]["reasons"])


def test_a_new_manifest_is_a_new_run_and_the_same_one_replayed_is_not(pipeline):
    files = folder_files()
    upload_folder(pipeline, files)
    key = FOLDER + "import-manifest.json"
    head = pipeline.client("s3").head_object(Bucket=pipeline.data_bucket, Key=key)
    replay = pipeline.object_created_event(pipeline.data_bucket, key, head["ContentLength"], head["ETag"].strip('"'),
                                           head.get("VersionId"))
    pipeline.put_event(replay)
    pipeline.run()
    pipeline.upload(key, manifest_for(files))  # the same upload again (a client's retry): a new S3 version, same run
    pipeline.run()
    assert len(import_jobs(pipeline)) == 1 and len(pipeline.ledger()) == 1
    pipeline.advance(minutes=READY)
    pipeline.upload(key, manifest_for(files, version="2"))  # the user imports again, on purpose
    pipeline.run()
    assert len(import_jobs(pipeline)) == 2 and len([r for r in pipeline.ledger() if r["kind"] == "import"]) == 2


def test_a_failed_import_job_fails_the_run_with_bedrocks_message(pipeline):
    notifications(pipeline)
    pipeline.bedrock.imports.fail_next("Unsupported model configuration: rope_scaling.")
    upload_folder(pipeline, folder_files())
    pipeline.advance(minutes=READY)
    run = the_import(pipeline)
    assert run["status"] == "IMPORT_FAILED" and "rope_scaling" in run["model_import"]["failure_message"]
    assert "rope_scaling" in once(pipeline, "ImportFailed")["detail"]["reason"]
    assert any("rope_scaling" in n for n in notifications(pipeline))
    assert ours(pipeline, "ModelImported") == []


def test_weights_deleted_after_the_checks_fail_the_job_as_bedrock_would(pipeline):
    upload_folder(pipeline, folder_files())
    pipeline.client("s3").delete_object(Bucket=pipeline.data_bucket, Key=FOLDER + "model.safetensors")
    pipeline.advance(minutes=READY)
    run = the_import(pipeline)
    assert run["status"] == "IMPORT_FAILED" and "safetensors" in run["model_import"]["failure_message"]


def test_a_throttled_create_is_retried_by_lambda_and_makes_one_job(pipeline):
    pipeline.faults.fail("bedrock.CreateModelImportJob", "ThrottlingException")
    upload_folder(pipeline, folder_files())
    assert len(import_jobs(pipeline)) == 1 and the_import(pipeline)["model_import"]["job_arn"]


def test_a_start_that_dies_after_the_create_is_adopted_by_the_sweeper(pipeline):
    pipeline.faults.die("bedrock.CreateModelImportJob", after=True, times=None)
    upload_folder(pipeline, folder_files())
    (job,) = import_jobs(pipeline)  # every retry found the same job by its name and token
    pipeline.advance(minutes=READY)
    run = the_import(pipeline)
    assert run["status"] == "COMPLETED" and run["model_import"]["job_arn"] == job.arn
    assert len(import_jobs(pipeline)) == 1


def test_a_start_that_dies_after_the_create_still_gets_its_test_set_evaluated(pipeline):
    pipeline.faults.die("bedrock.CreateModelImportJob", after=True)
    upload_tiny_model(pipeline)
    assert "job_arn" not in the_import(pipeline)["model_import"]  # the job exists; the ledger does not say so
    pipeline.advance(minutes=READY + 10)
    run = the_import(pipeline)
    assert run["status"] == "COMPLETED" and run["model_import"]["status_source"] == "sweeper"
    assert run["evaluation"]["examples"] == 20 and len(import_jobs(pipeline)) == 1


def test_a_create_whose_answer_is_a_conflict_finds_its_own_job_by_name(pipeline):
    pipeline.faults.fail("bedrock.CreateModelImportJob", "ConflictException", after=True)  # it landed before
    upload_folder(pipeline, folder_files())
    (job,) = import_jobs(pipeline)
    assert the_import(pipeline)["model_import"]["job_arn"] == job.arn and ours(pipeline, "ImportFailed") == []


def test_a_start_that_dies_before_the_create_is_retried_by_the_sweeper(pipeline):
    # Lambda's own retries find the dead start's lease still held and leave it: the sweeper retries once it lapsed
    pipeline.faults.die("bedrock.CreateModelImportJob")
    upload_folder(pipeline, folder_files())
    assert import_jobs(pipeline) == [] and the_import(pipeline)["status"] == "IMPORTING"
    pipeline.advance(minutes=30)
    assert once(pipeline, "StepRetryRequested")["detail"]["step"] == "import"
    (job,) = import_jobs(pipeline)
    pipeline.advance(minutes=READY)
    assert the_import(pipeline)["status"] == "COMPLETED"


def test_a_start_that_always_dies_fails_the_run_after_its_attempts_and_makes_no_job(pipeline):
    pipeline.faults.die("bedrock.CreateModelImportJob", times=None)
    upload_folder(pipeline, folder_files())
    pipeline.advance(hours=3)
    run = the_import(pipeline)
    assert run["status"] == "IMPORT_FAILED" and import_jobs(pipeline) == []
    assert "3 attempts" in once(pipeline, "ImportFailed")["detail"]["reason"]


def test_a_refused_job_fails_the_run_at_once(pipeline):
    pipeline.faults.fail("bedrock.CreateModelImportJob", "ServiceQuotaExceededException", times=None)
    upload_folder(pipeline, folder_files())
    run = the_import(pipeline)
    assert run["status"] == "IMPORT_FAILED" and "ServiceQuotaExceededException" in \
        run["model_import"]["failure_message"]


def test_a_stop_while_the_job_runs_ends_the_run_when_bedrock_is_done_and_nothing_else_runs(pipeline):
    from tests.integration.test_deploy_and_teardown import stop

    files = folder_files(**{"test.jsonl": b'{"prompt": "a", "completion": "b"}\n'})
    upload_folder(pipeline, files, manifest_for(files, test_set="test.jsonl"))
    stop(pipeline, the_import(pipeline)["run_id"])
    run = the_import(pipeline)
    assert run["status"] == "IMPORTING" and run["stop"]["requested_by"] == "alice"  # no StopModelImportJob exists
    pipeline.advance(minutes=READY)
    run = the_import(pipeline)
    (job,) = import_jobs(pipeline)
    assert run["status"] == "STOPPED" and job.status == "Completed"
    assert job.model_arn in once(pipeline, "RunStopped")["detail"]["reason"]  # the model is kept, and said so
    assert pipeline.bedrock.converse.calls == 0 and "evaluation_started" not in str(run["timeline"])


def test_a_stop_before_the_job_exists_means_no_job_is_ever_made(pipeline):
    from tests.integration.test_deploy_and_teardown import stop

    pipeline.faults.die("bedrock.CreateModelImportJob")  # the start dies before its create
    upload_folder(pipeline, folder_files())
    stop(pipeline, the_import(pipeline)["run_id"])
    pipeline.advance(hours=3)
    run = the_import(pipeline)
    assert run["status"] == "STOPPED" and import_jobs(pipeline) == [] and once(pipeline, "RunStopped")


def test_a_stop_while_the_folder_waits_ends_it_and_the_late_files_start_nothing(pipeline):
    from tests.integration.test_deploy_and_teardown import stop

    files = folder_files()
    pipeline.upload(FOLDER + "import-manifest.json", manifest_for(files))
    pipeline.run()
    stop(pipeline, the_import(pipeline)["run_id"])
    assert the_import(pipeline)["status"] == "STOPPED"
    for name, body in files.items():
        pipeline.upload(FOLDER + name, body)
    pipeline.run()
    pipeline.advance(days=2)
    assert import_jobs(pipeline) == [] and the_import(pipeline)["status"] == "STOPPED"


def test_a_folder_whose_name_exists_only_verbatim_is_found(pipeline):
    pipeline.encode_s3_keys = False  # the event carries "models/a+b/…" and the key really is "a+b"
    upload_folder(pipeline, folder_files(), folder="models/a+b/")
    assert len(import_jobs(pipeline)) == 1 and the_import(pipeline)["model_import"]["folder_uri"].endswith("/a+b/")


def test_a_test_set_line_that_is_valid_json_but_not_text_is_rejected_before_any_call(pipeline):
    files = folder_files(**{"test.jsonl": b'{"prompt": "\\ud800", "completion": "b"}\n'})
    upload_folder(pipeline, files, manifest_for(files, test_set="test.jsonl"))
    run = the_import(pipeline)
    assert run["status"] == "REJECTED" and any("surrogate" in r for r in run["validation"]["reasons"])


# --- a real model, evaluated ----------------------------------------------------------------------------------------

BASE_MODEL_ID = "meta.llama3-2-1b-instruct-v1:0"


@functools.cache
def tiny_model() -> Path:
    """A tiny Llama built from a config and trained a few steps on headlines (no download): a real model folder."""
    from ml.model_import.tiny_model import build_tiny_model, read_pairs

    folder = Path(tempfile.mkdtemp(prefix="tiny-llama-"))
    build_tiny_model(folder, read_pairs(HEADLINES / "train.csv", limit=400), steps=40, vocab_size=1000)
    return folder


def held_out_test_set(limit=20) -> bytes:
    from ml.model_import.tiny_model import SYSTEM_PROMPT, read_pairs

    pairs = read_pairs(HEADLINES / "validation.csv", limit=limit)
    return b"".join(json.dumps({"system": SYSTEM_PROMPT, "prompt": h, "completion": label}).encode() + b"\n"
                    for h, label in pairs)


def upload_tiny_model(pipeline, test_set=True, folder=FOLDER):
    from ml.model_import.tiny_model import LABELS, read_pairs

    files = {p.name: p.read_bytes() for p in sorted(tiny_model().iterdir()) if p.is_file()}
    fields = {}
    if test_set:
        files["test.jsonl"] = held_out_test_set()
        fields = {"test_set": "test.jsonl", "labels": list(LABELS), "base_model_id": BASE_MODEL_ID}
        pipeline.bedrock.stand_in_base_model([BASE_MODEL_ID], read_pairs(HEADLINES / "train.csv", limit=400))
    upload_folder(pipeline, files, manifest_for(files, **fields), folder=folder)
    return files


def test_an_imported_model_is_evaluated_on_demand_against_its_base_model_by_the_same_step(pipeline):
    from ml.model_import.generate import LoadedModel
    from ml.model_import.tiny_model import SYSTEM_PROMPT

    upload_tiny_model(pipeline)
    pipeline.advance(minutes=READY + 10)
    run = the_import(pipeline)
    assert run["status"] == "COMPLETED", run["timeline"]
    (job,) = import_jobs(pipeline)
    prefix = f"datasets/{run['run_id']}/evaluation/"
    report = json.loads(pipeline.read_object(prefix + "report.json"))
    assert report["models"]["tuned"]["model_id"] == job.model_arn  # on demand: no provisioned throughput
    assert report["models"]["base"]["model_id"] == BASE_MODEL_ID
    assert pipeline.bedrock.serving.history == []  # nothing that bills by the hour was ever created
    assert report["sample"]["examples"] == 20 and report["model_import"]["family"] == "llama"
    lines = [json.loads(line) for line in pipeline.read_object(prefix + "predictions.jsonl").splitlines()]
    # the answers are the uploaded model's own: the same folder, run here directly, says the same
    direct = LoadedModel.load(tiny_model())
    for line in lines[:3]:
        text, _, _ = direct.converse(SYSTEM_PROMPT, [{"role": "user", "content": [{"text": line["input"]}]}], 16)
        assert line["models"]["tuned"]["raw"] == text and line["models"]["tuned"]["output_tokens"] > 0
    html = pipeline.read_object(prefix + "report.html").decode()
    assert "Imported model" in html and job.model_arn in html
    completed = once(pipeline, "RunCompleted")["detail"]
    assert completed["outcome"].startswith("evaluated:") and job.model_arn in completed["outcome"]
