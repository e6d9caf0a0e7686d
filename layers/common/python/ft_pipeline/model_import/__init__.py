"""Checks on a Hugging Face model folder before Bedrock Custom Model Import is asked to import it.

Pure logic over names, sizes and a few small files' bytes (no AWS calls): the pipeline step lists the folder
in S3 and reads the small files; `make check-model` does the same on a local folder.

- `manifest`: `import-manifest.json`, which the user writes beside the model (what the folder must hold,
  an optional test set and evaluation settings).
- `checks`: `check_folder`, the verdict on a folder against its manifest.
- `test_set`: the test set's line-by-line checks.
"""

from ft_pipeline.model_import.checks import ImportVerdict, Problem, check_folder
from ft_pipeline.model_import.manifest import (
    CHECK_NAME,
    MANIFEST_NAME,
    ImportEvaluationOptions,
    ImportManifest,
    ManifestError,
    parse_manifest,
    write_manifest,
)
from ft_pipeline.model_import.test_set import check_test_set

__all__ = [
    "CHECK_NAME",
    "MANIFEST_NAME",
    "ImportEvaluationOptions",
    "ImportManifest",
    "ImportVerdict",
    "ManifestError",
    "Problem",
    "check_folder",
    "check_test_set",
    "parse_manifest",
    "write_manifest",
]
