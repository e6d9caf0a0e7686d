"""`make demo`: the whole pipeline, locally, on the bundled news headlines.

Everything runs in this process: moto stands in for S3, DynamoDB, EventBridge, SQS and SNS, the real
Lambda handlers run in-process, and the wiring (which event reaches which handler, with which
environment) is read from template.yaml. Nothing touches AWS and no credentials are needed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from local_emulation.harness import REPO_ROOT, LocalPipeline

DEFAULT_DATASET = REPO_ROOT / "data" / "headlines" / "train.csv"
TRAINING_MINUTES = 25  # of local (emulated) time, while the job is InProgress
DEPLOY_MINUTES = 15  # the emulated deployment is Active after 10


def _show(pipeline: LocalPipeline, seen_invocations: int, seen_events: int) -> tuple[int, int]:
    """Print what happened since the last call: invocations, then the pipeline's own events."""
    for invocation in pipeline.invocations[seen_invocations:]:
        status = "ok" if invocation.error is None else f"FAILED: {invocation.error}"
        if invocation.error is None and isinstance(invocation.result, dict) and "waiting" in invocation.result:
            waiting = {k: v for k, v in invocation.result["waiting"].items() if v}
            status += f": runs waiting {waiting or 'none'}, {len(invocation.result['errors'])} errors"
        print(f"   invoke  {invocation.function} (attempt {invocation.attempt}) at {invocation.at:%H:%M}, "
              f"{invocation.seconds:.1f}s: {status}")
    for event in pipeline.events[seen_events:]:
        if event["source"].startswith("ft-pipeline") or event["source"] == "aws.bedrock":
            what = event["detail"].get("run_id") or event["detail"].get("jobName")
            print(f"   event   {event['detail-type']} ({event['source']}: {what})")
    return len(pipeline.invocations), len(pipeline.events)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help="CSV or JSONL file to upload")
    parser.add_argument("--key", default=None, help="object key (default: incoming/<file name>)")
    parser.add_argument("--options", type=Path, default=None, help="options manifest uploaded beside the data")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / ".demo", help="where to leave the results")
    args = parser.parse_args(argv)

    key = args.key or f"incoming/{args.dataset.name}"
    out: Path = args.out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    started = time.perf_counter()
    with LocalPipeline() as pipeline:
        print(f"local stack from {pipeline.stack.path.name}: bucket {pipeline.data_bucket}, "
              f"{len(pipeline.routes)} event route(s)")
        for route in pipeline.routes:
            print(f"  rule on bus {route.bus!r} -> {route.function}: {json.dumps(route.pattern)}")
        for schedule in pipeline.schedules:
            print(f"  schedule {schedule.expression} -> {schedule.function}")
        if args.options:
            pipeline.upload(key + ".options.json", args.options.read_bytes())
        print(f"\nupload s3://{pipeline.data_bucket}/{key} ({args.dataset.stat().st_size:,} bytes)")
        pipeline.upload(key, args.dataset.read_bytes())
        pipeline.run()
        shown = _show(pipeline, 0, 0)
        jobs = pipeline.bedrock.in_progress()
        if jobs:
            print(f"\n   Bedrock trains for a while: the local clock moves on {TRAINING_MINUTES} minutes, and the "
                  "sweeper\n   looks at the job every period (Bedrock's own event is best effort).")
            pipeline.advance(minutes=TRAINING_MINUTES)
            shown = _show(pipeline, *shown)
        for job in jobs:
            print(f"\n   Bedrock job {job} completes. Here an emulated job stands in for Bedrock: it trains a"
                  "\n   real TF-IDF + logistic-regression classifier on train.jsonl (not an LLM) and writes loss"
                  "\n   curves where Bedrock would, then sends Bedrock's job-state-change event.")
            pipeline.bedrock.finish(job, "Completed")
        pipeline.run()
        shown = _show(pipeline, *shown)
        deploying = [r for r in pipeline.ledger() if r.get("status") == "DEPLOYING"]
        if deploying:
            serving = deploying[0]["serving"]
            print(f"\n   {serving['mode']} deployment {serving['name']} is Creating (deadline {serving['deadline']})."
                  f"\n   No event says when it is ready: the sweeper polls it; the clock moves on {DEPLOY_MINUTES} "
                  "minutes.")
            print("   Once Active, ModelDeployed starts the evaluation: the held-out test split (sampled, stratified)"
                  "\n   is asked of the tuned model and of its base model, in chunks over a queue; the last chunk"
                  "\n   writes the report; EvaluationCompleted lets the teardown policy keep or delete the deployment.")
            pipeline.advance(minutes=DEPLOY_MINUTES)
            _show(pipeline, *shown)
        pipeline.export_bucket(out / "bucket")
        for name in ("report.html", "report.json", "predictions.jsonl"):  # beside run.json, for a quick look
            for found in (out / "bucket" / "datasets").glob(f"*/evaluation/{name}"):
                shutil.copyfile(found, out / name)
        runs = pipeline.ledger()
        (out / "events.json").write_text(json.dumps(pipeline.events, indent=2, default=str))
        account = pipeline.bedrock.account_inventory()
        (out / "account.json").write_text(json.dumps(account, indent=2))
        run = runs[-1] if runs else None
        (out / "run.json").write_text(json.dumps(run, indent=2))
        failed = bool(pipeline.failures)

    if run is None:
        print("no run was recorded: see the invocation errors above", file=sys.stderr)
        return 1
    report_path = out / "bucket" / "datasets" / run["run_id"] / "report.json"
    report = json.loads(report_path.read_text())
    print(f"\nrun {run['run_id']}: {run['status']} in {time.perf_counter() - started:.1f}s")
    for entry in run["timeline"]:
        print(f"  {entry['at']}  {entry['status']:<17} {entry['transition']:<20} {entry['note'][:70]}")
    counts = report["counts"]
    print(f"  records   {counts['records_read']} read: {counts['accepted']} accepted, {counts['rejected']} rejected, "
          f"{counts['blank']} blank")
    for name, split in report["splits"].items():
        print(f"  {name:<9} {split['records']:>6} records  {split.get('labels') or ''}")
    cost = report.get("estimated_cost") or {}
    if cost.get("usd") is not None:
        print(f"  cost      ~${cost['usd']:.2f} to train {report['base_model']} "
              f"({cost['training_tokens_total']:,} tokens over {cost['epochs']} epochs)")
    for reason in report["reasons"]:
        print(f"  reason    {reason}")
    training = run["training"].get("metrics")
    if training:
        print(f"  model     {run['model']['custom_model_arn']}")
        print(f"  losses    training {training.get('training_loss', float('nan')):.3f}, validation "
              f"{training.get('validation_loss', float('nan')):.3f} after {training.get('steps')} steps "
              f"(curves: {training.get('metrics_uri')})")
    serving, cost = run.get("serving") or {}, run.get("cost") or {}
    if serving.get("name"):
        print(f"  serving   {serving['mode']} {serving['name']}: {serving['state']} "
              f"(active {serving.get('active_at')}, deleted {serving.get('deleted_at')})")
    total = cost.get("total_usd")
    print(f"  cost      so far {f'${total:.2f}' if total is not None else 'unknown'}"
          f"{' (unconfirmed: ' + '; '.join(cost['unconfirmed']) + ')' if cost.get('unconfirmed') else ''}")
    evaluation = run.get("evaluation") or {}
    if evaluation.get("summary"):
        print(f"  evaluated {evaluation['examples']} test examples: {evaluation['summary']}")
        print(f"  report    {out / 'report.html'} (open it in a browser); both models are local stand-ins")
    alive = [r["name"] for kind in ("provisioned_throughputs", "custom_model_deployments")
             for r in account[kind] if r["status"] != "Deleted"]
    print(f"  account   paid serving resources still alive: {len(alive)} {alive or ''}; custom models kept: "
          f"{len(account['custom_models'])} (storage bills monthly)")
    print(f"\nresults under {out}/:")
    print("  bucket/       the emulated bucket's objects (inputs under incoming/, outputs under datasets/)")
    print("  run.json      the run's ledger record")
    print("  events.json   every event that crossed a bus")
    print("  account.json  the emulated account's paid resources (throughputs, deployments, custom models) and status")
    print("  report.html, report.json, predictions.jsonl   the evaluation: tuned against base, on the test split")
    return 1 if failed or alive or run["status"] != "COMPLETED" else 0


if __name__ == "__main__":
    raise SystemExit(main())
