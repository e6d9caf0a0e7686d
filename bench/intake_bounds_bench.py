"""`make bench`: what hostile uploads cost the validator, each against the same upload ten times smaller.

Every case runs in a fresh child process (its own peak RSS) at two sizes, N and 10 N:
- long-json-line: a gzip holding real records and one JSON line of N MB (a compression bomb: tiny upload);
- long-csv-field: the same for one CSV field of N MB;
- rejected-flood: a gzip of N x 10,000 identical invalid 10 KB records: what rejected.jsonl grows to.
Reported: the upload's size, peak RSS, the bytes written, and the ratio of each between 10 N and N. Bounded means
a ratio near 1 for memory, whatever the line length or compression ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / ".bench"
GOOD = b"".join(json.dumps({"text": f"headline number {i}", "label": ("business", "science")[i % 2]}).encode() + b"\n"
                for i in range(200))


def _gzip(parts: list[tuple[bytes, int]]) -> bytes:
    deflate = zlib.compressobj(6, zlib.DEFLATED, 31)
    return b"".join(deflate.compress(chunk) for chunk, times in parts for _ in range(times)) + deflate.flush()


def make(case: str, mb: int) -> Path:
    WORK.mkdir(exist_ok=True)
    path = WORK / f"{case}-{mb}.gz"
    if path.exists():
        return path
    chunk = b"a" * (1 << 20)
    if case == "long-json-line":
        parts = [(GOOD, 1), (b'{"text": "', 1), (chunk, mb), (b'", "label": "business"}\n', 1)]
    elif case == "long-csv-field":
        rows = b"".join(f"headline number {i},{('business', 'science')[i % 2]}\n".encode() for i in range(200))
        parts = [(b"text,label\n" + rows, 1), (chunk, mb), (b",science\n", 1)]
    else:
        parts = [(GOOD, 1), (b'{"question": "' + b"q" * 10_000 + b'"}\n', mb * 10_000)]
    path.write_bytes(_gzip(parts))
    return path


def child(path: Path) -> None:
    from ft_pipeline.catalogue.options import DatasetOptions
    from ft_pipeline.dataset.validate import validate_dataset

    out = WORK / f"out-{path.stem}"
    started = time.perf_counter()
    with path.open("rb") as f:
        report = validate_dataset(f, name=path.name, dataset_id="bench", out_dir=out,
                                  options=DatasetOptions(max_rejected_fraction=1.0, deployment={"mode": "none"}))
    written = sum(p.stat().st_size for p in out.iterdir())
    print(json.dumps({"seconds": time.perf_counter() - started, "records": report.counts.records_read,
                      "balanced": report.counts.balanced, "written": written,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def measure(path: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=f"{REPO / 'layers' / 'common' / 'python'}{os.pathsep}{REPO}")
    out = subprocess.run([sys.executable, __file__, "--child", str(path)], check=True, capture_output=True,
                         text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=20, help="N: the small case; the large one is 10 N")
    args = parser.parse_args()
    print(f"\nintake bounds: each hostile upload at N = {args.size_mb} MB and 10 N, in fresh processes\n")
    header = (f"{'case':<18}{'N':>5}{'upload':>10}{'peak RSS':>10}{'written':>11}{'seconds':>9}"
              f"{'RSS x':>8}{'written x':>11}")
    print(header)
    print("-" * len(header))
    for case in ("long-json-line", "long-csv-field", "rejected-flood"):
        small_n, large_n = (1, 10) if case == "rejected-flood" else (args.size_mb, args.size_mb * 10)
        small, large = make(case, small_n), make(case, large_n)
        a, b = measure(small), measure(large)
        assert a["balanced"] and b["balanced"]
        for n, path, r in ((small_n, small, a), (large_n, large, b)):
            ratio = (f"{b['peak_rss_mb'] / a['peak_rss_mb']:>8.2f}{b['written'] / max(1, a['written']):>11.2f}"
                     if r is b else "")
            print(f"{case:<18}{n:>5}{path.stat().st_size / 1e6:>9.2f}M{r['peak_rss_mb']:>9.0f}M"
                  f"{r['written'] / 1e6:>10.1f}M{r['seconds']:>9.2f}{ratio}")
    print("\nN: MB of the long line or field (rejected-flood: x 10,000 rejected 10 KB records, decompressing to "
          "N x 100 MB);\nRSS x / written x: the large case over the small one (1.00 = flat: memory and output do "
          "not follow the input)")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]))
    else:
        main()
