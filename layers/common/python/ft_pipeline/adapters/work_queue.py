"""The evaluation's fan-out queue (SQS): one message per chunk of the test sample."""

from __future__ import annotations

from pydantic import BaseModel

from ft_pipeline.adapters.clients import client

BATCH = 10  # SendMessageBatch's limit


class SqsWorkQueue:
    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def send(self, messages: list[BaseModel]) -> None:
        for start in range(0, len(messages), BATCH):
            batch = messages[start:start + BATCH]
            answer = client("sqs").send_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(i), "MessageBody": m.model_dump_json()} for i, m in enumerate(batch)])
            if answer.get("Failed"):
                codes = sorted({f.get("Code", "?") for f in answer["Failed"]})
                raise RuntimeError(f"{len(answer['Failed'])} of {len(batch)} chunk messages were not queued: {codes}")
