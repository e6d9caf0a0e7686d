"""Train the headline classifier on SageMaker and deploy it behind an endpoint (sagemaker SDK v2).

    python ml/headline_classifier/deploy.py --role-arn <SageMaker execution role> --bucket <bucket> \\
        [--serving serverless|realtime] [--endpoint-name headline-classifier] [--epochs 3] \\
        [--memory-mb 2048] [--instance-type ml.m5.large --workers 1]

1. uploads data/headlines/{train,validation}.csv to s3://<bucket>/<prefix>data/
2. runs train.py as a Hugging Face training job (GPU instance; the HF training images are GPU-only),
   starting from the `distilbert-base-uncased` hub checkpoint, which the job downloads itself
3. deploys the resulting model.tar.gz (which carries code/inference.py, model.onnx and code/requirements.txt,
   which installs onnxruntime) on the Hugging Face CPU inference image: a serverless endpoint (pay per
   request; 4 MB payloads) or a real-time one (`--instance-type`)
4. prints the endpoint name and the `sam deploy` parameters that point the stack's API at it

Sizing (measured by `make bench`, section cold; see docs/serving-speed.md):
- `--memory-mb` (serverless; 1024-6144 in 1024 steps, the API's ServerlessConfig.MemorySizeInMB): 2048 by
  default. One model worker of the default DistilBERT-base model peaks at about 0.2 GB serving the int8 ONNX
  model, 0.4 GB fp32, and 0.75 GB on the torch fallback; 2048 holds the worst of these beside the model
  server and its Java frontend with room to spare, 1024 does not for the fallback. More memory also buys
  more CPU on a serverless endpoint, so a larger size is faster, not only roomier.
- `--workers` (real-time): model server workers (SAGEMAKER_MODEL_SERVER_WORKERS), 1 by default: one worker
  using every vCPU answers one request fastest; N workers each get vCPUs/N ONNX Runtime threads (inference.py
  divides them), for throughput under concurrent requests. A serverless endpoint always runs 1.
- Graviton (arm64, e.g. ml.c7g.*) is refused: the Hugging Face inference images this SDK knows
  (sagemaker/image_uri_config/huggingface.json) are built for x86 only (processors cpu and gpu, no
  graviton scope), and the SDK allows Graviton only for tensorflow, pytorch, xgboost and sklearn.

Costs money: a training job (minutes of a GPU instance) and an endpoint (serverless: per request;
real-time: per hour until you delete it, `--delete ENDPOINT` does).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "data" / "headlines"

# Hugging Face Deep Learning Containers known to the SDK's image config (sagemaker/image_uri_config/huggingface.json)
TRAINING_IMAGE = {"transformers_version": "4.56.2", "pytorch_version": "2.8.0", "py_version": "py312"}
INFERENCE_IMAGE = {"transformers_version": "4.51.3", "pytorch_version": "2.6.0", "py_version": "py312"}

SERVERLESS_MEMORY_MB = 2048  # measured; see the module docstring
SERVERLESS_MEMORY_SIZES = (1024, 2048, 3072, 4096, 5120, 6144)  # ServerlessConfig.MemorySizeInMB
# Graviton families: a digit, then "g" (c6g, c6gn, c7g, m6gd, m7g, r8g, ...); not g5 or g6e (NVIDIA GPUs)
GRAVITON = re.compile(r"^ml\.[a-z]+\d+g[a-z]*\.")
GRAVITON_REFUSAL = (
    "{instance} is a Graviton (arm64) instance, and the Hugging Face inference images are x86 only: the SDK's "
    "image config (sagemaker/image_uri_config/huggingface.json) lists cpu and gpu images and no Graviton "
    "scope, and the SDK allows Graviton only for tensorflow, pytorch, xgboost and sklearn. Use an x86 "
    "instance (ml.c6i, ml.c7i, ml.m5, ml.m6i) or a serverless endpoint")

# the lines train.py prints once per epoch
METRIC_DEFINITIONS = [{"Name": name, "Regex": rf"{name}=([0-9.]+)"}
                      for name in ("train_loss", "val_loss", "val_accuracy", "val_macro_f1")]


@dataclass
class DeployPlan:
    role_arn: str
    bucket: str
    prefix: str = "headline-classifier/"
    base_job_name: str = "headline-classifier"
    endpoint_name: str = "headline-classifier"
    serving: str = "serverless"
    train_instance_type: str = "ml.g5.xlarge"
    instance_type: str = "ml.m5.large"
    memory_mb: int = SERVERLESS_MEMORY_MB
    max_concurrency: int = 5
    workers: int = 1
    hyperparameters: dict[str, Any] = field(default_factory=lambda: {
        "model_name_or_path": "distilbert-base-uncased", "epochs": 3, "batch_size": 32, "learning_rate": 5e-5,
        "max_length": 64, "dropout": 0.3})

    def __post_init__(self) -> None:
        if self.serving not in ("serverless", "realtime"):
            raise ValueError("--serving is serverless or realtime")
        if self.serving == "serverless" and self.memory_mb not in SERVERLESS_MEMORY_SIZES:
            raise ValueError(f"serverless memory is 1024-6144 MB in 1024 MB steps, not {self.memory_mb}")
        if not 1 <= self.workers <= 64:
            raise ValueError(f"--workers is 1-64, not {self.workers}")
        if self.serving == "serverless" and self.workers != 1:
            raise ValueError("--workers is for real-time endpoints: a serverless endpoint runs one worker "
                             "(more would only hold more copies of the model in its memory)")
        if self.serving == "realtime" and GRAVITON.match(self.instance_type):
            raise ValueError(GRAVITON_REFUSAL.format(instance=self.instance_type))
        if not 1 <= self.max_concurrency <= 200:
            raise ValueError("serverless max concurrency is 1-200")
        if not self.prefix.endswith("/"):
            self.prefix += "/"

    @property
    def data_uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}data"

    def estimator_kwargs(self) -> dict[str, Any]:
        return {"entry_point": "train.py", "source_dir": str(HERE), "role": self.role_arn,
                "instance_type": self.train_instance_type, "instance_count": 1,
                "hyperparameters": self.hyperparameters, "metric_definitions": METRIC_DEFINITIONS,
                "output_path": f"s3://{self.bucket}/{self.prefix}models/",
                "code_location": f"s3://{self.bucket}/{self.prefix}code", "base_job_name": self.base_job_name,
                "max_run": 3 * 3600, "disable_profiler": True, **TRAINING_IMAGE}

    def deploy_kwargs(self) -> dict[str, Any]:
        from sagemaker.serverless import ServerlessInferenceConfig

        if self.serving == "serverless":
            return {"endpoint_name": self.endpoint_name, "serverless_inference_config": ServerlessInferenceConfig(
                memory_size_in_mb=self.memory_mb, max_concurrency=self.max_concurrency)}
        return {"endpoint_name": self.endpoint_name, "initial_instance_count": 1, "instance_type": self.instance_type}

    def model_env(self) -> dict[str, str]:
        """The container's environment: inference.py's settings and the model server's worker count."""
        return {"HEADLINE_MAX_LENGTH": str(self.hyperparameters.get("max_length", 64)),
                "SAGEMAKER_MODEL_SERVER_WORKERS": str(self.workers if self.serving == "realtime" else 1)}


def run(plan: DeployPlan, session: Any = None, wait: bool = True) -> dict[str, str]:
    """Upload, train, deploy; returns the endpoint name and the training job name (the model version)."""
    import sagemaker
    from sagemaker.huggingface import HuggingFace, HuggingFaceModel

    session = session or sagemaker.Session()
    for split in ("train", "validation"):
        session.upload_data(str(DATA / f"{split}.csv"), bucket=plan.bucket, key_prefix=f"{plan.prefix}data/{split}")
    estimator = HuggingFace(sagemaker_session=session, **plan.estimator_kwargs())
    estimator.fit({"train": f"{plan.data_uri}/train", "validation": f"{plan.data_uri}/validation"}, wait=wait,
                  logs=wait)
    job_name = estimator.latest_training_job.name
    output_path = plan.estimator_kwargs()["output_path"]
    model_data = estimator.model_data if wait else f"{output_path}{job_name}/output/model.tar.gz"
    model = HuggingFaceModel(model_data=model_data, role=plan.role_arn, sagemaker_session=session,
                             env=plan.model_env(),
                             **INFERENCE_IMAGE)
    model.deploy(wait=wait, **plan.deploy_kwargs())
    return {"endpoint_name": plan.endpoint_name, "model_version": job_name}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--role-arn", required=False, help="SageMaker execution role (trusts sagemaker.amazonaws.com)")
    parser.add_argument("--bucket", required=False)
    parser.add_argument("--prefix", default="headline-classifier/")
    parser.add_argument("--endpoint-name", default="headline-classifier")
    parser.add_argument("--serving", choices=("serverless", "realtime"), default="serverless")
    parser.add_argument("--instance-type", default="ml.m5.large", help="real-time endpoint instance")
    parser.add_argument("--train-instance-type", default="ml.g5.xlarge")
    parser.add_argument("--memory-mb", type=int, default=SERVERLESS_MEMORY_MB,
                        help=f"serverless memory: 1024-6144 in 1024 steps ({SERVERLESS_MEMORY_MB}, measured)")
    parser.add_argument("--workers", type=int, default=1,
                        help="real-time: model server workers, each with vCPUs/workers threads (1)")
    parser.add_argument("--max-concurrency", type=int, default=5, help="serverless concurrency")
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--delete", metavar="ENDPOINT", help="delete this endpoint (and its config) instead")
    args = parser.parse_args(argv)
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")  # v2's estimators are what this uses, knowingly
    if args.delete:
        import boto3

        sm = boto3.client("sagemaker")
        config = sm.describe_endpoint(EndpointName=args.delete)["EndpointConfigName"]
        sm.delete_endpoint(EndpointName=args.delete)
        sm.delete_endpoint_config(EndpointConfigName=config)
        print(f"deleted endpoint {args.delete} and its config {config}")
        return 0
    if not args.role_arn or not args.bucket:
        parser.error("--role-arn and --bucket are required to deploy")
    try:
        plan = DeployPlan(role_arn=args.role_arn, bucket=args.bucket, prefix=args.prefix,
                          endpoint_name=args.endpoint_name, serving=args.serving, instance_type=args.instance_type,
                          train_instance_type=args.train_instance_type, memory_mb=args.memory_mb,
                          max_concurrency=args.max_concurrency, workers=args.workers)
    except ValueError as exc:  # a plan that cannot be deployed: said before anything is uploaded or paid for
        parser.error(str(exc))
    plan.hyperparameters["epochs"] = args.epochs
    started = time.monotonic()
    result = run(plan)
    print(f"\nendpoint {result['endpoint_name']} is InService ({time.monotonic() - started:.0f}s); "
          "point the stack at it:")
    print(f"  sam deploy --parameter-overrides HeadlineEndpointName={result['endpoint_name']} "
          f"HeadlineModelVersion={result['model_version']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
