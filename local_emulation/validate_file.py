"""`make validate FILE=path [BASE_MODEL=id] [OUT=dir] [OPTIONS=manifest.json]`: the validator on a local file.

Writes train.jsonl, validation.jsonl, test.jsonl, rejected.jsonl and report.json to OUT, prints a
summary, and exits 1 when the dataset is rejected as a whole (2 for unusable options).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

from ft_pipeline.dataset.options import InvalidOptions, resolve_options
from ft_pipeline.dataset.report import DatasetStatus
from ft_pipeline.dataset.validate import validate_dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path)
    parser.add_argument("--base-model", default=None)
    parser.add_argument("--options", type=Path, default=None, help="options manifest (JSON)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: <file>.validated/)")
    args = parser.parse_args(argv)

    source: Path = args.file
    if not source.is_file():
        print(f"{source}: no such file", file=sys.stderr)
        return 2
    out = args.out or source.with_name(source.name + ".validated")
    if out.resolve() == source.resolve().parent:
        print("refusing to write outputs next to the input in the same folder; pick --out", file=sys.stderr)
        return 2
    manifest_path = args.options or Path(str(source) + ".options.json")
    manifest = manifest_path.read_bytes() if manifest_path.is_file() else None
    try:
        options = resolve_options({}, manifest, str(manifest_path))
        if args.base_model:  # the command line wins over the manifest
            override = json.loads(manifest or b"{}") | {"base_model": args.base_model}
            if "hyperparameters" in override and options.model.family != resolve_options(
                    {}, json.dumps({"base_model": args.base_model}).encode(), "--base-model").model.family:
                override.pop("hyperparameters")  # they were for another model family
            source_name = f"{manifest_path} + --base-model" if manifest else "--base-model"
            options = resolve_options({}, json.dumps(override).encode(), source_name)
    except InvalidOptions as exc:
        print(f"invalid options: {exc}", file=sys.stderr)
        return 2
    digest = hashlib.sha256(source.read_bytes()[:1 << 20] + str(source.stat().st_size).encode()).hexdigest()[:10]
    slug = re.sub(r"[^a-z0-9]+", "-", source.name.split(".")[0].lower()).strip("-")[:24] or "dataset"
    with source.open("rb") as stream:
        report = validate_dataset(stream, name=str(source), dataset_id=f"{slug}-{digest}", options=options,
                                  out_dir=out)
    print("\n".join(report.summary_lines()))
    print(f"  outputs       {out}/")
    return 0 if report.status is DatasetStatus.VALIDATED else 1


if __name__ == "__main__":
    raise SystemExit(main())
