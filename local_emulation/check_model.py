"""`make check-model DIR=path [WRITE_MANIFEST=1] [TEST_SET=name] [BASE_MODEL_ID=id] [REGION=r]`: the checks the
pipeline runs on a model folder before Bedrock Custom Model Import, on a local folder (nothing is sent to AWS).

    python -m local_emulation.check_model DIR [--write-manifest] [--test-set NAME] [--base-model-id ID]
                                              [--label L ...] [--region us-east-1]

--write-manifest first writes DIR/import-manifest.json from the folder's files (never over an existing one);
--test-set, --base-model-id and --label go into that manifest. Then the folder is checked against its manifest,
as the pipeline would check it once uploaded under models/<name>/, and every problem and warning is printed.

Exits 0 when the folder would be accepted, 1 when rejected (an unusable manifest included), 2 for usage errors
(no such folder, no manifest, one in the way of --write-manifest), 3 when the checker itself fails.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ft_pipeline.model_import.checks import REGIONS, ImportVerdict, check_folder
from ft_pipeline.model_import.manifest import MANIFEST_NAME, ManifestError, parse_manifest, scan_folder, write_manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_emulation.check_model", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="the Hugging Face model folder")
    parser.add_argument("--write-manifest", action="store_true", help=f"write {MANIFEST_NAME} first")
    parser.add_argument("--test-set", default=None, help="(with --write-manifest) the test set's file name")
    parser.add_argument("--base-model-id", default=None, help="(with --write-manifest) the Bedrock model to "
                        "compare with in the evaluation")
    parser.add_argument("--label", action="append", default=None, dest="labels",
                        help="(with --write-manifest, repeatable) an answer the test set may expect")
    parser.add_argument("--region", default="us-east-1",
                        help=f"the stack's region (import is offered in {', '.join(sorted(REGIONS))})")
    args = parser.parse_args(argv)

    folder: Path = args.folder
    if not folder.is_dir():
        print(f"{folder}: no such folder", file=sys.stderr)
        return 2
    manifest_path = folder / MANIFEST_NAME
    manifest_fields = {"--test-set": args.test_set, "--base-model-id": args.base_model_id, "--label": args.labels}
    given = [flag for flag, value in manifest_fields.items() if value is not None]
    if given and not args.write_manifest:
        print(f"{', '.join(given)}: only with --write-manifest (WRITE_MANIFEST=1); they go into {MANIFEST_NAME} "
              f"(edit {manifest_path} to change them)", file=sys.stderr)
        return 2
    if args.write_manifest:
        if manifest_path.exists():
            print(f"{manifest_path} exists already and is never overwritten: delete it to write a new one, or check "
                  "the folder without WRITE_MANIFEST=1", file=sys.stderr)
            return 2
        try:
            written = write_manifest(folder, test_set=args.test_set, base_model_id=args.base_model_id,
                                     labels=args.labels)
        except ManifestError as exc:
            print("\n".join(f"cannot write the manifest: {p.message}" for p in exc.problems), file=sys.stderr)
            return 2
        print(f"wrote {manifest_path} ({len(written.files)} files)")
    if not manifest_path.is_file():
        print(f"{folder}: no {MANIFEST_NAME}; write one with --write-manifest (make check-model ... WRITE_MANIFEST=1), "
              "then upload it with the model", file=sys.stderr)
        return 2

    try:
        verdict = _check(folder, manifest_path, args.region)
    except Exception as exc:  # a fault of the checker, not a verdict on the folder: its own exit status
        print(f"internal error while checking {folder} ({type(exc).__name__}); please report it", file=sys.stderr)
        return 3
    print(verdict.render())
    return 0 if verdict.accepted else 1


def _check(folder: Path, manifest_path: Path, region: str) -> ImportVerdict:
    present = scan_folder(folder)
    try:
        manifest = parse_manifest(manifest_path.read_bytes(), str(manifest_path))
    except ManifestError as exc:
        return ImportVerdict.rejected(exc.problems)
    return check_folder(manifest, present, lambda name: (folder / name).read_bytes(), region)


if __name__ == "__main__":
    raise SystemExit(main())
