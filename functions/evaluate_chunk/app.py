"""One chunk of the evaluation (an SQS message): its questions asked of each model, its answers stored; the last
chunk writes the report. A failed chunk is reported alone (partial batch failure) and retried by the queue."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from ft_pipeline.contracts import EvaluationChunk
from ft_pipeline.observability import logger, pipeline_handler, run_scope
from ft_pipeline.steps.evaluate import answer_chunk
from ft_pipeline.wiring import training_deps

processor = BatchProcessor(event_type=EventType.SQS)


def _one_chunk(record: SQSRecord) -> dict[str, Any]:
    chunk = EvaluationChunk.model_validate_json(record.body)
    with run_scope(chunk.run_id):  # a batch may hold chunks of several runs: each message is its run's
        outcome = answer_chunk(chunk, training_deps())
        logger.info("chunk done", extra={"chunk": chunk.chunk, "action": outcome.action})
    return outcome.model_dump()


@pipeline_handler(correlation_id_path=None)  # the run id is in each message's body
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=_one_chunk, processor=processor, context=context)
