"""`make demo-import`: bring your own model, locally. A tiny Llama is built on the spot from a config (no download)
and trained on the bundled headlines, its folder is uploaded under models/ file by file with an import manifest and
a held-out test set, and the real handlers take it from there: the checks, the emulated import job (polled by the
sweeper; no event exists), the same evaluation a trained model gets (the imported model asked on demand against its
base model's stand-in), the report, the end of the run. Nothing touches AWS.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from local_emulation.demo import _show
from local_emulation.harness import REPO_ROOT, LocalPipeline

HEADLINES = REPO_ROOT / "data" / "headlines"
BASE_MODEL_ID = "meta.llama3-2-1b-instruct-v1:0"  # the manifest's base model (a local stand-in answers for it)
FOLDER = "models/tiny-llama/"
IMPORT_MINUTES = 25  # of emulated time: the import job completes after 15; the sweeper polls every 10
TEST_EXAMPLES = 200


def _build(target: Path, steps: int) -> None:
    from ml.model_import.tiny_model import build_tiny_model, read_pairs

    print(f"building a tiny Llama from a config and training it {steps} steps on {HEADLINES / 'train.csv'} ...")
    summary = build_tiny_model(target, read_pairs(HEADLINES / "train.csv"), steps=steps)
    print(f"   {summary.get('params', 0):,} parameters, final loss {summary.get('final_loss', float('nan')):.3f}, "
          f"{summary.get('seconds', 0):.0f} s")


def _folder_with_test_set(model: Path, work: Path) -> Path:
    """The model's files plus a held-out test set and the manifest, as a user would upload them."""
    from ft_pipeline.model_import.manifest import MANIFEST_NAME, write_manifest
    from ml.model_import.tiny_model import LABELS, SYSTEM_PROMPT, read_pairs

    folder = work / "upload"
    shutil.copytree(model, folder, ignore=shutil.ignore_patterns(MANIFEST_NAME, "import-check.json"))
    pairs = read_pairs(HEADLINES / "validation.csv", limit=TEST_EXAMPLES)  # never seen in training
    (folder / "test.jsonl").write_text("".join(json.dumps({"system": SYSTEM_PROMPT, "prompt": headline,
                                                           "completion": label}) + "\n" for headline, label in pairs))
    write_manifest(folder, test_set="test.jsonl", base_model_id=BASE_MODEL_ID, labels=list(LABELS))
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="an existing model folder (default: build one)")
    parser.add_argument("--steps", type=int, default=300, help="training steps of the tiny model built on the spot")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / ".demo-import", help="where to leave the results")
    args = parser.parse_args(argv)
    out: Path = args.out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="demo-import-") as work_dir:
        work = Path(work_dir)
        model = args.model
        if model is None:
            model = work / "tiny-llama"
            _build(model, args.steps)
        folder = _folder_with_test_set(model, work)
        return _run(folder, out)


def _run(folder: Path, out: Path) -> int:
    from ml.model_import.tiny_model import read_pairs

    started = time.perf_counter()
    with LocalPipeline() as pipeline:
        pipeline.bedrock.stand_in_base_model([BASE_MODEL_ID], read_pairs(HEADLINES / "train.csv"))
        files = sorted(p for p in folder.iterdir() if p.is_file())
        files.sort(key=lambda p: p.name != "import-manifest.json")  # manifest first: the folder waits for the rest
        print(f"\nupload {len(files)} files to s3://{pipeline.data_bucket}/{FOLDER} one by one")
        shown = (0, 0)
        for path in files:
            pipeline.upload(FOLDER + path.name, path.read_bytes())
            pipeline.run()
            answer = pipeline.invocations[-1].result if pipeline.invocations else {}
            detail = answer.get("detail", "") if isinstance(answer, dict) else ""
            print(f"   {path.name:<24} {path.stat().st_size:>10,} bytes -> {answer.get('action') if answer else ''}"
                  f" {detail}")
            shown = (len(pipeline.invocations), shown[1])
        shown = _show(pipeline, *shown)
        print(f"\n   Bedrock imports the folder: no event says when it is done, so the sweeper asks "
              f"GetModelImportJob\n   every period; the clock moves on {IMPORT_MINUTES} minutes. ModelImported then "
              "starts the evaluation:\n   the imported model is asked on demand (nothing bills by the hour).")
        pipeline.advance(minutes=IMPORT_MINUTES)
        _show(pipeline, *shown)
        (run,) = [r for r in pipeline.ledger() if r.get("kind") == "import"]
        pipeline.export_bucket(out / "bucket")
        for name in ("report.html", "report.json", "predictions.jsonl"):
            for found in (out / "bucket" / "datasets").glob(f"*/evaluation/{name}"):
                shutil.copyfile(found, out / name)
        (out / "run.json").write_text(json.dumps(run, indent=2))
        (out / "events.json").write_text(json.dumps(pipeline.events, indent=2, default=str))
        failed = bool(pipeline.failures)
        alive = [r.name for r in pipeline.bedrock.serving.alive()]

    print(f"\nrun {run['run_id']}: {run['status']} in {time.perf_counter() - started:.1f}s")
    for entry in run["timeline"]:
        print(f"  {entry['at']}  {entry['status']:<17} {entry['transition']:<28} {entry['note'][:60]}")
    imported = run.get("model_import") or {}
    print(f"  checked   {imported.get('architecture')} ({imported.get('family')}), "
          f"{(imported.get('weights_bytes') or 0) / 1e6:.1f} MB of weights; warnings: "
          f"{imported.get('warnings') or 'none'}")
    print(f"  imported  {imported.get('imported_model_arn')}")
    for reason in (run.get("validation") or {}).get("reasons") or []:
        print(f"  reason    {reason}")
    evaluation = run.get("evaluation") or {}
    if evaluation.get("summary"):
        print(f"  evaluated {evaluation['examples']} held-out headlines: {evaluation['summary']}")
        print(f"  report    {out / 'report.html'} (the tuned model is the imported folder, run locally; the base "
              "model is a few-shot stand-in)")
    print(f"  serving   paid resources created: {len(alive)} (an imported model is invoked on demand)")
    print(f"\nresults under {out}/: bucket/, run.json, events.json, report.html, report.json, predictions.jsonl")
    return 1 if failed or alive or run["status"] != "COMPLETED" else 0


if __name__ == "__main__":
    raise SystemExit(main())
