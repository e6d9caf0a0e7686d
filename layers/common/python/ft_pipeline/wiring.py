"""Builds each step's dependencies from the function's environment: the one place adapters are chosen."""

from __future__ import annotations

from ft_pipeline.adapters.bedrock_customization import BedrockCustomization
from ft_pipeline.adapters.bedrock_import import BedrockImportApi
from ft_pipeline.adapters.bedrock_runtime import BedrockRuntimeApi
from ft_pipeline.adapters.bedrock_serving import BedrockServingApi
from ft_pipeline.adapters.event_bus import EventBridgePublisher, StopRequests
from ft_pipeline.adapters.ledger_table import LedgerTable
from ft_pipeline.adapters.notifier import SnsNotifier
from ft_pipeline.adapters.object_store import S3ObjectStore
from ft_pipeline.adapters.work_queue import SqsWorkQueue
from ft_pipeline.ports import TrainingDeps, ValidatorDeps
from ft_pipeline.runs.service import RunsDeps
from ft_pipeline.settings import RunsApiSettings, TrainingSettings, ValidatorSettings


def validator_deps() -> ValidatorDeps:
    settings = ValidatorSettings.from_env()
    return ValidatorDeps(settings=settings, store=S3ObjectStore(), ledger=LedgerTable(settings.ledger_table),
                         publisher=EventBridgePublisher(settings.event_bus_name))


def training_deps() -> TrainingDeps:
    settings = TrainingSettings.from_env()
    return TrainingDeps(settings=settings, bedrock=BedrockCustomization(), ledger=LedgerTable(settings.ledger_table),
                        publisher=EventBridgePublisher(settings.event_bus_name),
                        # a step whose role may not publish has no topic: its notes wait for the sweeper's outbox pass
                        notifier=SnsNotifier(settings.notifications_topic_arn) if settings.notifications_topic_arn
                        else None, store=S3ObjectStore(),
                        serving=BedrockServingApi(), runtime=BedrockRuntimeApi(),
                        queue=SqsWorkQueue(settings.evaluation_queue_url) if settings.evaluation_queue_url else None,
                        imports=BedrockImportApi())


def runs_deps() -> RunsDeps:
    settings = RunsApiSettings.from_env()
    return RunsDeps(settings=settings, ledger=LedgerTable(settings.ledger_table), files=S3ObjectStore(),
                    stops=StopRequests(settings.event_bus_name))
