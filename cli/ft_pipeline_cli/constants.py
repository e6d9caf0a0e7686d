"""What the tool shares with the pipeline's layer, copied (the tool does not import `ft_pipeline`).

tests/unit/test_cli.py checks these against `ft_pipeline.lifecycle` and `ft_pipeline.runs.api_models`, so a
change there fails a test until it is made here too.
"""

from __future__ import annotations

# ft_pipeline.runs.api_models.FILENAME_PATTERN: the data file names POST /runs accepts
FILENAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\.(csv|jsonl)(\.gz)?$"

# states no transition leaves: ft_pipeline.lifecycle.terminal_states(), plus IMPORT_FAILED (a planned state that
# no implemented transition reaches yet, terminal once it is)
SUCCEEDED = frozenset({"COMPLETED"})
ENDED_BADLY = frozenset({"STOPPED", "REJECTED", "TRAINING_FAILED", "TRAINING_STOPPED", "DEPLOYMENT_FAILED",
                         "EVALUATION_FAILED", "IMPORT_FAILED"})
TERMINAL_STATES = SUCCEEDED | ENDED_BADLY

# ft_pipeline.lifecycle.ServingState values of a serving resource that is (or may still be) paid for
PAID_SERVING_STATES = frozenset({"creating", "active", "deleting"})
