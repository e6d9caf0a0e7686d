"""Write events/*.json from the contract models (run again when a contract changes; a test checks them).

The fixtures are what `sam local invoke -e events/<name>.json` and the contract tests use.
"""

from __future__ import annotations

import json
from pathlib import Path

from ft_pipeline.contracts import (
    DatasetRejected,
    DatasetRejectedDetail,
    DatasetValidated,
    DatasetValidatedDetail,
    ObjectRef,
    S3Bucket,
    S3Object,
    S3ObjectCreatedDetail,
    S3ObjectCreatedEvent,
    SplitCounts,
)

EVENTS = Path(__file__).resolve().parent.parent / "events"
BUCKET = "ft-pipeline-dev-databucket-1a2b3c4d5e6f"
TIME = "2026-11-23T12:00:00Z"


def s3_event(key: str, event_id: str) -> S3ObjectCreatedEvent:
    return S3ObjectCreatedEvent(
        id=event_id, detail_type="Object Created", source="aws.s3", time=TIME,
        resources=[f"arn:aws:s3:::{BUCKET}"],
        detail=S3ObjectCreatedDetail(
            bucket=S3Bucket(name=BUCKET),
            object=S3Object(key=key, size=1372314, etag="81498b3f7aec3dce403f4a5349c3d6fb",
                            version_id="3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY", sequencer="0062E99A88DC407460"),
            request_id="N4N7GDK58NMKJ12R", requester="123456789012", reason="PutObject"),
    )


def main(target: Path = EVENTS) -> None:
    source = ObjectRef(bucket=BUCKET, key="incoming/headlines.csv", version_id="3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY",
                       etag="81498b3f7aec3dce403f4a5349c3d6fb")
    prefix = f"s3://{BUCKET}/datasets/headlines-0123456789/"
    counts = SplitCounts(train=16000, validation=2001, test=1999, rejected=0, duplicates=0, blank=0,
                         records_read=20000)
    fixtures = {
        "s3_object_created.json": s3_event("incoming/headlines.csv", "17793124-05d4-b198-2fde-7ededc63b103"),
        "s3_object_created_encoded_key.json": s3_event("incoming/team+a/news+headlines+%28v2%29.csv",
                                                       "2d1c9a1e-7f0b-4c55-9b1e-2f4a0c6b7d81"),
        "s3_object_created_options_manifest.json": s3_event("incoming/headlines.csv.options.json",
                                                            "5b0f6a2c-3d4e-4f11-8a9b-0c1d2e3f4a5b"),
        "dataset_validated.json": DatasetValidated(
            id="9f3c2d1e-0000-4a5b-8c7d-6e5f4a3b2c1d", detail_type="DatasetValidated",
            source=DatasetValidated.SOURCE, time=TIME, resources=[source.uri],
            detail=DatasetValidatedDetail(
                dataset_id="headlines-0123456789", source=source, base_model="amazon.nova-micro-v1:0:128k",
                output_format="bedrock-conversation-2024", training_data_uri=prefix + "train.jsonl",
                validation_data_uri=prefix + "validation.jsonl", test_data_uri=prefix + "test.jsonl",
                report_uri=prefix + "report.json", rejected_uri=prefix + "rejected.jsonl", counts=counts,
                labels=["business", "entertainment", "health", "science"], estimated_cost_usd=1.68,
                options={"base_model": "amazon.nova-micro-v1:0:128k", "hyperparameters": {},
                         "split": {"train": 0.8, "validation": 0.1, "test": 0.1},
                         "deployment": {"mode": "on-demand", "model_units": 1, "max_hours": 4.0},
                         "evaluation": {"enabled": True, "max_examples": 200, "compare_with_base_model": True}})),
        "dataset_rejected.json": DatasetRejected(
            id="0a1b2c3d-0000-4e5f-8a9b-0c1d2e3f4a5b", detail_type="DatasetRejected",
            source=DatasetRejected.SOURCE, time=TIME, resources=[source.uri],
            detail=DatasetRejectedDetail(
                dataset_id="headlines-0123456789", source=source,
                reasons=["only one label ('business') in the data; a classifier needs at least two"],
                report_uri=prefix + "report.json", rejected_uri=prefix + "rejected.jsonl")),
    }
    target.mkdir(exist_ok=True)
    for name, event in fixtures.items():
        data = event.model_dump(mode="json", by_alias=True, exclude_none=True)
        (target / name).write_text(json.dumps(data, indent=2) + "\n")
    print(f"wrote {len(fixtures)} fixtures to {target}")


if __name__ == "__main__":
    main()
