"""Evaluating a tuned model against its base model: answer parsing, metrics, the quality gate, the report."""
