"""The evaluation on the local stack: the tuned model against its base model on the held-out test split, in
chunks over a queue, and the report. Assertions are on what the emulated world holds: the bucket's report files,
the calls the emulated Bedrock answered, the buses, the account's paid resources."""

import json

from local_emulation.harness import LocalPipeline
from tests.integration.test_deploy_and_teardown import READY, alive, once, ours, stop, the_run, trained
from tests.integration.test_training_lifecycle import notifications

SMALL = {"evaluation": {"max_examples": 30, "chunk_size": 7}}  # 5 chunks


def evaluation_object(pipeline, name):
    run = the_run(pipeline)
    return pipeline.read_object(f"datasets/{run['run_id']}/evaluation/{name}")


def predictions(pipeline):
    return [json.loads(line) for line in evaluation_object(pipeline, "predictions.jsonl").splitlines()]


def test_the_tuned_model_is_compared_with_its_base_model_and_the_report_is_written(pipeline):
    notifications(pipeline)
    trained(pipeline)
    pipeline.advance(minutes=READY)
    run = the_run(pipeline)
    assert run["status"] == "COMPLETED" and alive(pipeline) == []
    report = json.loads(evaluation_object(pipeline, "report.json"))
    tuned, base = report["models"]["tuned"], report["models"]["base"]
    s3, prefix = pipeline.client("s3"), f"datasets/{run['run_id']}/evaluation/"
    tags = {key[len(prefix):]: s3.get_object_tagging(Bucket=pipeline.data_bucket, Key=key)["TagSet"]
            for key in pipeline.list_keys(prefix)}
    chunks = [tag for name, tag in tags.items() if name.startswith("chunks/")]
    assert chunks and all(t == [{"Key": "retention", "Value": "intermediate"}] for t in chunks)
    assert tags["report.json"] == tags["report.html"] == []  # what a person reads is kept
    assert tuned["model_id"] == run["serving"]["arn"] and base["model_id"] == "amazon.nova-micro-v1:0"
    assert tuned["accuracy"] > base["accuracy"] and report["comparison"]["low"] > 0  # the tuned model really learned
    assert tuned["confusion_matrix"]["labels"] == run["validation"]["labels"] + ["invalid"]
    assert sum(map(sum, tuned["confusion_matrix"]["rows"])) == report["sample"]["examples"] == 199
    lines = predictions(pipeline)
    assert [line["index"] for line in lines] == list(range(199))
    assert set(lines[0]["models"]) == {"tuned", "base"}
    assert set(lines[0]["models"]["tuned"]) == {"raw", "parsed", "latency_ms", "input_tokens", "output_tokens",
                                                 "error"}
    right = sum(line["models"]["tuned"]["parsed"] == line["expected"] for line in lines)
    assert abs(right / 199 - tuned["accuracy"]) < 1e-6
    event = once(pipeline, "EvaluationCompleted")["detail"]
    assert event["passed"] and event["report_html_uri"] == run["evaluation"]["report_html_uri"]
    html = evaluation_object(pipeline, "report.html").decode()
    assert "stand-in" in html.lower() and "http://" not in html and "<script" not in html
    (note,) = [n for n in notifications(pipeline) if "evaluation" in n]
    assert "tuned accuracy" in note and "report.html" in note
    assert [t["transition"] for t in run["timeline"]][-4:] == ["evaluation_completed", "serving_deleting",
                                                               "serving_deleted", "evaluated_run_completed"]


def test_a_chunk_whose_worker_dies_after_storing_it_is_not_asked_again():
    with LocalPipeline() as pipeline:
        pipeline.faults.die("s3.PutObject", after=True, when=lambda p: p["Key"].endswith("chunks/00002.jsonl"))
        trained(pipeline, SMALL)
        pipeline.advance(minutes=READY)
        assert the_run(pipeline)["status"] == "COMPLETED"
        assert pipeline.bedrock.converse.calls == 30 * 2  # each question once per model, the retry resumed
        assert len(predictions(pipeline)) == 30 and len(ours(pipeline, "EvaluationCompleted")) == 1


def test_duplicate_deliveries_start_one_evaluation_and_complete_it_once():
    with LocalPipeline(deliveries=3) as pipeline:
        trained(pipeline, SMALL)
        pipeline.advance(minutes=READY)
        run = the_run(pipeline)
        assert run["status"] == "COMPLETED" and pipeline.bedrock.converse.calls == 60
        once(pipeline, "EvaluationCompleted")
        assert [t["transition"] for t in run["timeline"]].count("evaluation_started") == 1


def test_a_chunk_message_delivered_again_after_the_end_asks_nothing(pipeline):
    trained(pipeline, SMALL)
    pipeline.advance(minutes=READY)
    calls = pipeline.bedrock.converse.calls
    run = the_run(pipeline)
    message = {"run_id": run["run_id"], "chunk": 4, "start": 28, "end": 30,
               "sample_uri": run["evaluation"]["sample_uri"]}
    pipeline.client("sqs").send_message(QueueUrl=pipeline.client("sqs").get_queue_url(
        QueueName=pipeline.resource_name("EvaluationChunkQueue"))["QueueUrl"], MessageBody=json.dumps(message))
    pipeline.run()
    assert pipeline.bedrock.converse.calls == calls and len(ours(pipeline, "EvaluationCompleted")) == 1


def test_throttled_calls_are_retried_and_none_is_lost(pipeline):
    pipeline.bedrock.converse.throttle_next(6)
    trained(pipeline, SMALL)
    pipeline.advance(minutes=READY)
    report = json.loads(evaluation_object(pipeline, "report.json"))
    assert report["models"]["tuned"]["errors"] == 0 and report["models"]["base"]["errors"] == 0
    assert report["models"]["tuned"]["answered"] == 30


def test_a_model_whose_calls_fail_is_counted_and_every_failure_kept_with_its_error(pipeline):
    pipeline.faults.fail("bedrock-runtime.Converse", "AccessDeniedException", times=None,
                         when=lambda p: p["modelId"] == "amazon.nova-micro-v1:0")
    trained(pipeline, SMALL)
    pipeline.advance(minutes=READY)
    report = json.loads(evaluation_object(pipeline, "report.json"))
    assert report["models"]["base"]["errors"] == 30 and report["models"]["tuned"]["errors"] == 0
    lines = predictions(pipeline)
    assert len(lines) == 30 and all("AccessDenied" in line["models"]["base"]["error"] for line in lines)
    # found by a hostile review: a gain over a base model that never answered proves nothing
    gain = next(r for r in report["gate"]["rules"] if r["rule"].startswith("accuracy gain"))
    assert gain["value"] is None and not gain["passed"] and report["gate"]["passed"] is False


def test_a_failed_gate_deletes_the_deployment_and_the_custom_model_when_asked(pipeline):
    trained(pipeline, SMALL | {"deployment": {"keep_after_evaluation": True,
                                              "delete_custom_model_on_gate_failure": True},
                               "evaluation": {"max_examples": 30, "gate": {"min_accuracy": 0.999}}})
    pipeline.advance(minutes=READY)
    run = the_run(pipeline)
    assert run["status"] == "COMPLETED" and run["evaluation"]["passed"] is False and alive(pipeline) == []
    assert once(pipeline, "EvaluationCompleted")["detail"]["passed"] is False
    assert run["model"]["deleted_at"] and pipeline.bedrock.account_inventory()["custom_models"] == []


def test_a_passed_gate_keeps_the_deployment_when_asked_until_its_maximum_lifetime(pipeline):
    trained(pipeline, SMALL | {"deployment": {"keep_after_evaluation": True, "max_hours": 1}})
    pipeline.advance(minutes=READY)
    run = the_run(pipeline)
    assert run["status"] == "COMPLETED" and run["serving"]["keep"] and len(alive(pipeline)) == 1
    assert once(pipeline, "RunCompleted")["detail"]["serving_state"] == "kept"
    pipeline.advance(minutes=50)
    assert alive(pipeline) == []  # the lifetime holds for a kept deployment too


def test_chunks_that_never_get_answered_fail_the_evaluation_and_delete_the_deployment(pipeline):
    pipeline.faults.die("bedrock-runtime.Converse", times=None)
    trained(pipeline, SMALL)
    pipeline.advance(hours=3.5)  # three leases of an hour each, then the sweeper gives up
    run = the_run(pipeline)
    assert run["status"] == "EVALUATION_FAILED" and "not answered in 3 attempts" in run["evaluation"]["reason"]
    assert alive(pipeline) == [] and once(pipeline, "EvaluationFailed")
    assert len(pipeline.dead_letters("EvaluationChunkDeadLetterQueue")) >= 5  # each failed chunk, kept


def test_a_stop_during_the_evaluation_deletes_the_deployment_and_asks_nothing_more(pipeline):
    run = trained(pipeline, SMALL)
    stopped = []

    def stop_once(params):
        if not stopped:
            stopped.append(1)
            stop(pipeline, run["run_id"])

    pipeline.faults.call("s3.PutObject", stop_once, when=lambda p: p["Key"].endswith("chunks/00000.jsonl"))
    pipeline.advance(minutes=READY)
    assert the_run(pipeline)["status"] == "STOPPED" and alive(pipeline) == []
    assert pipeline.bedrock.converse.calls == 14  # the first chunk only: later ones found the run stopped
    assert ours(pipeline, "EvaluationCompleted") == []


def test_without_an_evaluation_the_run_completes_at_once_and_deletes_the_deployment(pipeline):
    trained(pipeline, {"evaluation": {"enabled": False}})
    pipeline.advance(minutes=READY)
    run = the_run(pipeline)
    assert run["status"] == "COMPLETED" and alive(pipeline) == [] and pipeline.bedrock.converse.calls == 0
    assert "not evaluated" in once(pipeline, "RunCompleted")["detail"]["outcome"]


def test_a_model_that_could_not_be_asked_never_passes_the_gate(pipeline):
    """Found by a hostile review: every call failing made tuned and base both 0, a gain of 0, and a pass."""
    pipeline.faults.fail("bedrock-runtime.Converse", "AccessDeniedException", times=None)
    trained(pipeline, SMALL | {"deployment": {"keep_after_evaluation": True}})
    pipeline.advance(minutes=READY)
    run = the_run(pipeline)
    assert run["evaluation"]["passed"] is False and not run["serving"].get("keep") and alive(pipeline) == []
    report = json.loads(evaluation_object(pipeline, "report.json"))
    assert report["gate"]["rules"][0] == {"rule": "share of the tuned model's calls answered ≥", "value": 0.0,
                                          "threshold": 0.9, "passed": False}
