"""`make validate FILE=path [BASE_MODEL=id] [OUT=dir] [OPTIONS=manifest.json]`: the validator on a local file.

BASE_MODEL stands for the stack's DefaultBaseModel: an options manifest (OPTIONS, or <file>.options.json)
overrides it, as it would in the stack.

Writes train.jsonl, validation.jsonl, test.jsonl, rejected.jsonl and report.json to OUT, prints a
summary, and exits 1 when the dataset is rejected as a whole (2 for unusable options or paths, 3 when the
validator itself fails).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from ft_pipeline.catalogue.options import InvalidOptions, resolve_options
from ft_pipeline.dataset.report import DatasetStatus
from ft_pipeline.dataset.validate import validate_dataset
from ft_pipeline.steps.validate_upload import make_dataset_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path)
    parser.add_argument("--base-model", default=None)
    parser.add_argument("--options", type=Path, default=None, help="options manifest (JSON)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: <file>.validated/)")
    parser.add_argument("--region", default="us-east-1", help="the stack's region (decides where on-demand exists)")
    args = parser.parse_args(argv)

    source: Path = args.file
    if not source.is_file():
        print(f"{source}: no such file", file=sys.stderr)
        return 2
    out = args.out or source.with_name(source.name + ".validated")
    problem = _unusable_output(source, out)
    if problem:
        print(f"--out {out}: {problem}", file=sys.stderr)
        return 2
    if args.options is not None and not args.options.is_file():
        print(f"--options {args.options}: no such file (leave it out to use the defaults)", file=sys.stderr)
        return 2
    # as in the stack: --base-model plays DefaultBaseModel, and a manifest beside the file overrides it
    manifest_path = args.options or Path(str(source) + ".options.json")
    manifest = manifest_path.read_bytes() if manifest_path.is_file() else None
    defaults = {"base_model": args.base_model} if args.base_model else {}
    try:
        options = resolve_options(defaults, manifest, str(manifest_path), {"region": args.region})
    except InvalidOptions as exc:
        print(f"invalid options: {exc}", file=sys.stderr)
        return 2
    with source.open("rb") as stream:
        version = hashlib.sha256(stream.read(1 << 20)).hexdigest() + str(source.stat().st_size)
        stream.seek(0)
        try:
            report = validate_dataset(stream, name=str(source), options=options, out_dir=out,
                                      dataset_id=make_dataset_id("local", str(source), version))
        except Exception as exc:  # a fault of the validator, not a verdict on the data: its own exit status
            print(f"internal error while validating {source} ({type(exc).__name__}); please report it",
                  file=sys.stderr)
            return 3
    print("\n".join(report.summary_lines()))
    print(f"  outputs       {out}/")
    return 0 if report.status is DatasetStatus.VALIDATED else 1


OUTPUT_NAMES = ("train.jsonl", "validation.jsonl", "test.jsonl", "rejected.jsonl", "report.json")


def _unusable_output(source: Path, out: Path) -> str | None:
    """Why `out` cannot take the outputs without harming the input, or None."""
    out_abs, source_abs = out.resolve(), source.resolve()
    if out_abs == source_abs:
        return "is the input file itself; pick a folder for the outputs"
    if out.exists() and not out.is_dir():
        return "exists and is not a folder"
    if out_abs == source_abs.parent:
        return "is the input's own folder; pick another folder, so that no output can overwrite an input"
    if any((out_abs / name) == source_abs for name in OUTPUT_NAMES):
        return f"would overwrite the input ({source.name} is an output name there)"
    return None


if __name__ == "__main__":
    raise SystemExit(main())
