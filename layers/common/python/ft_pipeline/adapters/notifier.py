"""Failure notifications to the stack's SNS topic (e-mail subscribers, or anything else subscribed)."""

from __future__ import annotations

from ft_pipeline.adapters.clients import client


class SnsNotifier:
    def __init__(self, topic_arn: str) -> None:
        self.topic_arn = topic_arn

    def notify(self, subject: str, message: str) -> None:
        client("sns").publish(TopicArn=self.topic_arn, Subject=subject[:100], Message=message)
