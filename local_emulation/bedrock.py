"""Bedrock model customization, emulated beyond what moto offers.

moto stores jobs but never runs them. Here a job is finished on demand, as the demo or a test drives it:
- Completed: for a labelled dataset (few distinct completions) a real text classifier is trained on the
  training split (scikit-learn: TF-IDF features, logistic regression by SGD), with the per-step training
  loss and per-epoch validation loss written where Bedrock writes them. It stands in for Bedrock's
  fine-tuning so that evaluation later measures something real; it is not an LLM.
- Failed / Stopped: with a failure message.
Then Bedrock's "Model Customization Job State Change" event is put on the default bus in AWS's shape,
unless the test asks for it to be lost (delivery is best effort in AWS too).

StopModelCustomizationJob behaves as AWS documents it, not as moto does: an InProgress job goes to
Stopping (and `finish(job, "Stopped")` ends it), a job that has ended cannot be stopped (ValidationException).
"""

from __future__ import annotations

import csv
import io
import json
import pickle
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from typing import Any
from urllib.parse import unquote

from moto.bedrock.exceptions import ResourceNotFoundException, ValidationException
from moto.bedrock.models import BedrockBackend, bedrock_backends

from ft_pipeline.clock import clock
from ft_pipeline.contracts import BedrockJobStateChange, BedrockJobStateChangeDetail
from local_emulation.bedrock_import import ImportEmulator
from local_emulation.bedrock_runtime import ConverseEmulator
from local_emulation.bedrock_serving import ServingEmulator
from local_emulation.template import ACCOUNT_ID, REGION

MAX_CLASSES = 50  # more distinct completions than this is generation, not classification
FEW_SHOT = 4  # examples per label the base model's stand-in learns from


@dataclass
class EmulatedModel:
    """The stand-in for a custom model: answers a prompt with the completion it learned."""

    classifier: Any
    vectorizer: Any

    def answer(self, prompt: str) -> str:
        return str(self.classifier.predict(self.vectorizer.transform([prompt]))[0])


def _pairs(jsonl: bytes) -> list[tuple[str, str]]:
    """(prompt, completion) from any of the formats the validator writes."""
    pairs = []
    for line in jsonl.splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        if "prompt" in record:
            pairs.append((record["prompt"], record["completion"]))
            continue
        messages = record["messages"]
        def text(m: dict[str, Any]) -> str:
            content = m["content"]
            return content if isinstance(content, str) else "\n".join(b["text"] for b in content)
        pairs.append((text(messages[-2]), text(messages[-1])))
    return pairs


def _stop_as_aws_does(backend: BedrockBackend, job_identifier: str) -> None:
    job = backend.model_customization_jobs.get(job_identifier)
    if job is None:
        raise ResourceNotFoundException(f"Model customization job {job_identifier} not found")
    if job.status != "InProgress":
        raise ValidationException(f"Job {job_identifier} cannot be stopped in status {job.status}")
    job.status = "Stopping"
    job.last_modified_time = clock().now().strftime("%Y-%m-%dT%H:%M:%SZ")


def _delete_custom_model_as_aws_does(backend: BedrockBackend, model_identifier: str) -> None:
    """DeleteCustomModel takes the model's name or its ARN (moto: the name only, and still URL-encoded)."""
    model_identifier = unquote(model_identifier)
    for name, model in list(backend.custom_models.items()):
        # the job's output ARN (as the emulated job reports it) ends with the model's name, as in AWS
        if model_identifier in (name, model.model_arn) or model_identifier.rsplit("/", 1)[-1] == name:
            del backend.custom_models[name]
            return
    raise ResourceNotFoundException(f"Custom model {model_identifier} not found")


class BedrockEmulator:
    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline
        self.models: dict[str, EmulatedModel] = {}  # custom model ARN -> model
        self.serving = ServingEmulator()  # provisioned throughputs and custom model deployments
        self.converse = ConverseEmulator(self)  # the evaluation's questions
        self.imports = ImportEmulator(pipeline)  # Custom Model Import jobs and the models they make
        self._moto_stop: Any = None
        self._moto_delete_model: Any = None

    def install(self) -> None:
        self._moto_stop = BedrockBackend.stop_model_customization_job
        self._moto_delete_model = BedrockBackend.delete_custom_model
        BedrockBackend.stop_model_customization_job = _stop_as_aws_does  # type: ignore[method-assign]
        BedrockBackend.delete_custom_model = _delete_custom_model_as_aws_does  # type: ignore[method-assign]
        self.serving.install()
        self.converse.install()
        self.imports.install()

    def uninstall(self) -> None:
        self.imports.uninstall()
        self.converse.uninstall()
        self.serving.uninstall()
        if self._moto_stop is not None:
            BedrockBackend.stop_model_customization_job = self._moto_stop  # type: ignore[method-assign]
            BedrockBackend.delete_custom_model = self._moto_delete_model  # type: ignore[method-assign]
            self._moto_stop = None

    @property
    def _backend(self) -> Any:
        return bedrock_backends[ACCOUNT_ID][REGION]

    def jobs(self) -> dict[str, Any]:
        return dict(self._backend.model_customization_jobs)

    def account_inventory(self) -> dict[str, Any]:
        """Every paid resource the emulated account has had: throughputs, deployments, custom models."""
        return self.serving.inventory()

    def in_progress(self) -> list[str]:
        """Jobs that are still running (InProgress or Stopping): what would still be billing."""
        return [name for name, job in self.jobs().items() if job.status in ("InProgress", "Stopping")]

    def finish(self, job_name: str, status: str = "Completed", failure_message: str | None = None,
               deliver_event: bool = True, epochs: int | None = None) -> dict[str, Any]:
        job = self._backend.model_customization_jobs[job_name]
        if job.status not in ("InProgress", "Stopping"):
            raise ValueError(f"job {job_name} has already ended ({job.status})")
        now = clock().now().astimezone(UTC)
        if status == "Completed":
            job.output_model_name = job.custom_model_name  # moto appends the job name; AWS does not
            job.output_model_arn = (f"arn:aws:bedrock:{REGION}:{ACCOUNT_ID}:custom-model/"
                                    f"{job.base_model_identifier.split(':')[0]}/{job.custom_model_name}")
            losses = self._train(job, epochs or int(job.hyper_parameters.get("epochCount", "2")))
            job.training_metrics = {"trainingLoss": losses[0]} if losses[0] is not None else {}
            job.validation_metrics = [{"validationLoss": losses[1]}] if losses[1] is not None else []
            job.failure_message = None
        else:
            job.failure_message = failure_message or f"Job {status.lower()}."
        job.status = status
        job.end_time = job.last_modified_time = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        event = self.state_change_event(job)
        if deliver_event:
            self.pipeline.put_event(event)
        return event

    def state_change_event(self, job: Any) -> dict[str, Any]:
        detail = BedrockJobStateChangeDetail(
            jobName=job.job_name, jobArn=job.job_arn, jobStatus=job.status, outputModelName=job.output_model_name,
            outputModelArn=job.output_model_arn if job.status == "Completed" else None,
            failureMessage=job.failure_message, creationTime=str(job.creation_time),
            lastModifiedTime=str(job.last_modified_time), endTime=str(job.end_time),
            baseModelArn=job.base_model_arn, hyperParameters=job.hyper_parameters,
            trainingDataConfig=job.training_data_config, validationDataConfig=job.validation_data_config,
            outputDataConfig=job.output_data_config, roleArn=job.role_arn)
        event = BedrockJobStateChange(detail_type=BedrockJobStateChange.DETAIL_TYPE,
                                      source=BedrockJobStateChange.SOURCE, resources=[job.job_arn], detail=detail)
        return event.model_dump(mode="json", by_alias=True, exclude_none=True)

    # -- the stand-in training ---------------------------------------------------------------------------

    def _read(self, uri: str) -> bytes:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return self.pipeline.read_object(key, bucket)

    def _train(self, job: Any, epochs: int) -> tuple[float | None, float | None]:
        train = _pairs(self._read(job.training_data_config["s3Uri"]))
        validators = (job.validation_data_config or {}).get("validators") or []
        validation = _pairs(self._read(validators[0]["s3Uri"])) if validators else []
        classes = sorted({c for _, c in train})
        if not 2 <= len(classes) <= MAX_CLASSES:
            return None, None  # not a classification dataset: nothing real to stand in with
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import SGDClassifier
        from sklearn.metrics import log_loss

        vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True)
        x = vectorizer.fit_transform([p for p, _ in train])
        y = [c for _, c in train]
        model = SGDClassifier(loss="log_loss", alpha=1e-5, random_state=0)
        batch = 64
        steps, val_rows, step = [], [], 0
        for epoch in range(epochs):
            for start in range(0, x.shape[0], batch):
                model.partial_fit(x[start:start + batch], y[start:start + batch], classes=classes)
                step += 1
                if step % 10 == 0 or start + batch >= x.shape[0]:
                    loss = log_loss(y[start:start + batch], model.predict_proba(x[start:start + batch]),
                                    labels=classes)
                    steps.append((step, epoch, loss))
            if validation:
                xv = vectorizer.transform([p for p, _ in validation])
                val_loss = log_loss([c for _, c in validation], model.predict_proba(xv), labels=classes)
                val_rows.append((step, epoch, val_loss))
        self._write_artifacts(job, steps, val_rows, EmulatedModel(model, vectorizer))
        self._few_shot_base(job, train, classes)
        return steps[-1][2], (val_rows[-1][2] if val_rows else None)

    def _few_shot_base(self, job: Any, train: list[tuple[str, str]], classes: list[str]) -> None:
        base = job.base_model_identifier
        # as trained (…:0:128k) and as invoked (…:0)
        self.stand_in_base_model({base, ":".join(base.split(":")[:2])}, train)

    def stand_in_base_model(self, model_ids: Iterable[str], train: list[tuple[str, str]]) -> None:
        """The base model's honest stand-in: the same learner, shown only FEW_SHOT examples of each label (an
        imported model's manifest names its base model: the demo stands it in from the same headlines)."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import SGDClassifier

        classes = sorted({c for _, c in train})
        shots = [pair for label in classes for pair in [p for p in train if p[1] == label][:FEW_SHOT]]
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True)
        model = SGDClassifier(loss="log_loss", alpha=1e-4, random_state=0, max_iter=50, tol=None)
        model.fit(vectorizer.fit_transform([p for p, _ in shots]), [c for _, c in shots])
        for model_id in model_ids:
            self.converse.base_models[model_id] = EmulatedModel(model, vectorizer)

    def _write_artifacts(self, job: Any, steps: list[tuple[int, int, float]], val_rows: list[tuple[int, int, float]],
                         model: EmulatedModel) -> None:
        bucket, _, prefix = job.output_data_config["s3Uri"].removeprefix("s3://").partition("/")
        root = f"{prefix}model-customization-job-{job.job_name[-12:]}/"
        s3 = self.pipeline.client("s3")

        def put_csv(key: str, column: str, rows: list[tuple[int, int, float]]) -> None:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(["step_number", "epoch_number", column, "perplexity"])
            for step, epoch, loss in rows:
                writer.writerow([step, epoch, f"{loss:.6f}", f"{min(1e6, 2.718281828 ** loss):.4f}"])
            s3.put_object(Bucket=bucket, Key=root + key, Body=buffer.getvalue().encode())

        put_csv("training_artifacts/step_wise_training_metrics.csv", "training_loss", steps)
        if val_rows:
            put_csv("validation_artifacts/post_fine_tuning_validation/validation_metrics.csv", "validation_loss",
                    val_rows)
        s3.put_object(Bucket=bucket, Key=root + "emulated-model.pkl", Body=pickle.dumps(model))
        self.models[job.output_model_arn] = model
