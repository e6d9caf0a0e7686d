"""`make bench` (third part): evaluation throughput against its bound, in the same run.

A model that answers after a fixed delay caps a chunk at `concurrency / delay` calls per second. This measures
how close the evaluation's own machinery comes to that bound:
1. `ask_all` over a port that sleeps `delay` per call (the logic alone);
2. the real path: the Converse adapter (boto3, adaptive retries) against the local emulation's Converse with
   the same delay, tuned and base model both asked (calls/s counts both).
The ratio is measured / bound; the goal is at least 0.8.
"""

from __future__ import annotations

import argparse
import json
import time

from ft_pipeline.evaluation.ask import ask_all
from ft_pipeline.evaluation.sample import Question
from ft_pipeline.ports import ModelAnswer

LABELS = ["business", "entertainment", "health", "science"]


class FixedDelayModel:
    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s

    def converse(self, model_id: str, prompt: str, system: str | None, max_tokens: int) -> ModelAnswer:
        time.sleep(self.delay_s)
        return ModelAnswer(text="business", latency_ms=self.delay_s * 1000, input_tokens=40, output_tokens=1)


def _questions(n: int) -> list[Question]:
    return [Question(index=i, test_line=i + 1, input=f"headline {i}", expected=LABELS[i % 4]) for i in range(n)]


def _rate(calls: int, seconds: float) -> float:
    return calls / seconds if seconds else float("inf")


def bench_logic(examples: int, concurrency: int, delay_s: float) -> dict[str, float]:
    questions = _questions(examples)
    started = time.perf_counter()
    ask_all(questions, {"tuned": "m"}, FixedDelayModel(delay_s), labels=LABELS, max_tokens=20,
            concurrency=concurrency)
    seconds = time.perf_counter() - started
    bound = concurrency / delay_s
    return {"calls": examples, "seconds": round(seconds, 3), "calls_per_s": round(_rate(examples, seconds), 1),
            "bound": round(bound, 1), "ratio": round(_rate(examples, seconds) / bound, 3)}


def bench_through_boto(examples: int, concurrency: int, delay_s: float) -> dict[str, float]:
    """The Converse adapter over botocore against the emulated Converse (moto, in process)."""
    from ft_pipeline.adapters.bedrock_runtime import BedrockRuntimeApi
    from local_emulation.harness import LocalPipeline

    with LocalPipeline(log_level="CRITICAL") as pipeline:
        base = "amazon.nova-micro-v1:0"

        class Echo:
            def answer(self, prompt: str) -> str:
                return "business"

        pipeline.bedrock.converse.base_models[base] = Echo()
        pipeline.bedrock.converse.delay_s = delay_s
        runtime = BedrockRuntimeApi()
        runtime.converse(base, "warm up", None, 5)  # the client and its connection pool, once
        questions = _questions(examples)
        started = time.perf_counter()
        lines = ask_all(questions, {"base": base}, runtime, labels=LABELS, max_tokens=20, concurrency=concurrency)
        seconds = time.perf_counter() - started
    errors = sum(1 for line in lines if line["models"]["base"]["error"])
    bound = concurrency / delay_s
    return {"calls": examples, "errors": errors, "seconds": round(seconds, 3),
            "calls_per_s": round(_rate(examples, seconds), 1), "bound": round(bound, 1),
            "ratio": round(_rate(examples, seconds) / bound, 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--delay-ms", type=float, default=100.0)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    delay = args.delay_ms / 1000
    results = []
    print(f"evaluation throughput: a model answering after {args.delay_ms:g} ms; bound = concurrency / delay")
    print(f"{'path':<34} {'concurrency':>11} {'calls/s':>8} {'bound':>7} {'ratio':>6}")
    for concurrency in (1, 4, 8):
        for path, bench in (("ask_all over a sleeping port", bench_logic),
                            ("Converse adapter via boto3 (moto)", bench_through_boto)):
            result = bench(args.examples, concurrency, delay) | {"path": path, "concurrency": concurrency}
            results.append(result)
            print(f"{path:<34} {concurrency:>11} {result['calls_per_s']:>8.1f} {result['bound']:>7.1f} "
                  f"{result['ratio']:>6.2f}")
    worst = min(r["ratio"] for r in results)
    print(f"lowest ratio {worst:.2f} (goal: at least 0.80)")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
