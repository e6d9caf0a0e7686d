"""Write the APIs' OpenAPI documents from their code (`make openapi`); a test fails on drift.

docs/openapi.json: the headline classification API; docs/runs-openapi.json: the runs API.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET = REPO / "docs" / "openapi.json"
RUNS_TARGET = REPO / "docs" / "runs-openapi.json"

_DOCUMENTS = {
    "classify_headline": ("Headline classification API", "Classifies news headlines (business, entertainment, "
                          "health, science). Send the API key in the x-api-key header."),
    "runs_api": ("Runs API", "Follow and steer the pipeline's fine-tuning runs: list, show, stop, submit. Every "
                 "request is signed with AWS Signature Version 4 (AWS IAM authorization, service execute-api)."),
}


def openapi_document(function: str = "classify_headline") -> str:
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
    spec = importlib.util.spec_from_file_location(f"{function}_app", REPO / "functions" / function / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    title, description = _DOCUMENTS[function]
    extra = {}
    if function == "runs_api":  # API Gateway checks the signature (AWS_IAM authorizer); the function sees the caller
        from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn

        extra = {"security_schemes": {"sigv4": APIKey(name="Authorization", in_=APIKeyIn.header,
                                                      description="AWS Signature Version 4, service execute-api")},
                 "security": [{"sigv4": []}]}
    document = json.loads(module.app.get_openapi_json_schema(title=title, version="1.0.0", description=description,
                                                             **extra))
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def runs_openapi_document() -> str:
    return openapi_document("runs_api")


if __name__ == "__main__":
    TARGET.write_text(openapi_document())
    RUNS_TARGET.write_text(runs_openapi_document())
    print(f"wrote {TARGET} and {RUNS_TARGET}", file=sys.stderr)
