"""Write docs/openapi.json from the classification API's code (`make openapi`); a test fails on drift."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET = REPO / "docs" / "openapi.json"


def openapi_document() -> str:
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
    spec = importlib.util.spec_from_file_location("classify_headline_app",
                                                  REPO / "functions" / "classify_headline" / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    document = json.loads(module.app.get_openapi_json_schema(
        title="Headline classification API", version="1.0.0",
        description="Classifies news headlines (business, entertainment, health, science). Send the API key "
                    "in the x-api-key header."))
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    TARGET.write_text(openapi_document())
    print(f"wrote {TARGET}", file=sys.stderr)
