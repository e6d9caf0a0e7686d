# One entry point for people and CI. Every target creates what it needs; nothing is installed globally.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TEMPLATE_VENV := .venv-template
CHECKOV_VENV := .venv-checkov
export PYTHONPATH := layers/common/python:.
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: help demo demo-import check-model merge-lora faults test unit integration contract validate serve openapi stop-run state-diagram bench lint template-check sam-validate cfn-lint checkov sam-build clean

help:
	@echo "make demo                      run the pipeline locally on the bundled headlines (no AWS needed)"
	@echo "make test                      run the tests"
	@echo "make faults [SCENARIO=name]    deploy/teardown fault scenarios end to end: what each leaves alive, and its cost"
	@echo "make validate FILE=path [BASE_MODEL=id] [OUT=dir] [OPTIONS=file]   validate a local dataset"
	@echo "make demo-import               bring your own model: a tiny Llama built on the spot, imported, evaluated"
	@echo "make check-model DIR=path [WRITE_MANIFEST=1 TEST_SET=name BASE_MODEL_ID=id REGION=r]   Custom Model Import checks"
	@echo "make merge-lora BASE=dir ADAPTER=dir OUT=dir   merge a PEFT LoRA adapter into its base (for import)"
	@echo "make bench                     validator vs. the JSON parse limit; hostile uploads; classifier; evaluation"
	@echo "make serve                     the classification API and the runs API on localhost (a local pipeline)"
	@echo ".venv/bin/ft-pipeline --help   the runs command-line tool (a deployed stack, or make serve's URL)"
	@echo "make stop-run STACK=s RUN_ID=id   stop a deployed run's training job"
	@echo "make state-diagram             regenerate the README's lifecycle diagram from ft_pipeline/lifecycle.py"
	@echo "make lint                      ruff"
	@echo "make template-check            sam validate --lint, cfn-lint on the translated stack, checkov, sam build"
	@echo "sam build && sam deploy        deploy to your AWS account (see README)"

$(VENV)/.installed: requirements-dev.txt requirements-ml.txt requirements-import.txt layers/common/python/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .   # the ft-pipeline command (cli/), into .venv/bin
	touch $@

demo: $(VENV)/.installed
	$(PY) -m local_emulation.demo

demo-import: $(VENV)/.installed
	$(PY) -m local_emulation.demo_import $(if $(MODEL),--model "$(MODEL)")

check-model: $(VENV)/.installed
	@test -n "$(DIR)" || (echo "usage: make check-model DIR=path [WRITE_MANIFEST=1 TEST_SET=name BASE_MODEL_ID=id REGION=r]" && exit 2)
	$(PY) -m local_emulation.check_model "$(DIR)" $(if $(WRITE_MANIFEST),--write-manifest) \
		$(if $(TEST_SET),--test-set "$(TEST_SET)") $(if $(BASE_MODEL_ID),--base-model-id "$(BASE_MODEL_ID)") \
		$(if $(REGION),--region "$(REGION)")

merge-lora: $(VENV)/.installed
	@test -n "$(BASE)" -a -n "$(ADAPTER)" -a -n "$(OUT)" || (echo "usage: make merge-lora BASE=dir ADAPTER=dir OUT=dir" && exit 2)
	$(PY) -m ml.model_import.merge_lora --base "$(BASE)" --adapter "$(ADAPTER)" --out "$(OUT)"

faults: $(VENV)/.installed
	$(PY) -m local_emulation.fault_scenarios $(if $(SCENARIO),--scenario "$(SCENARIO)")

test: $(VENV)/.installed
	$(PY) -m pytest

unit: $(VENV)/.installed
	$(PY) -m pytest tests/unit

integration: $(VENV)/.installed
	$(PY) -m pytest tests/integration

contract: $(VENV)/.installed
	$(PY) -m pytest tests/contract

validate: $(VENV)/.installed
	@test -n "$(FILE)" || (echo "usage: make validate FILE=path [BASE_MODEL=id] [OUT=dir] [OPTIONS=file]" && exit 2)
	$(PY) -m local_emulation.validate_file "$(FILE)" $(if $(BASE_MODEL),--base-model "$(BASE_MODEL)") \
		$(if $(OUT),--out "$(OUT)") $(if $(OPTIONS),--options "$(OPTIONS)")

serve: $(VENV)/.installed
	$(PY) -m local_emulation.serve

openapi: $(VENV)/.installed
	$(PY) tools/export_openapi.py

RUN_ID ?= $(DATASET_ID)
stop-run: $(VENV)/.installed
	@test -n "$(STACK)" -a -n "$(RUN_ID)" || (echo "usage: make stop-run STACK=name RUN_ID=id" && exit 2)
	$(PY) tools/stop_run.py --stack "$(STACK)" --run-id "$(RUN_ID)"

state-diagram: $(VENV)/.installed
	$(PY) tools/make_state_diagram.py

bench: $(VENV)/.installed
	$(PY) -m bench.validator_bench $(if $(SIZE_MB),--size-mb $(SIZE_MB))
	$(PY) -m bench.intake_bounds_bench
	$(PY) -m bench.classifier_bench
	$(PY) -m bench.evaluation_bench

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

# --- template checks (separate venv: SAM CLI is large) -------------------------------------------
$(TEMPLATE_VENV)/.installed: requirements-template.txt
	$(PYTHON) -m venv $(TEMPLATE_VENV)
	$(TEMPLATE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(TEMPLATE_VENV)/bin/python -m pip install --quiet -r requirements-template.txt
	touch $@

sam-validate: $(TEMPLATE_VENV)/.installed
	$(TEMPLATE_VENV)/bin/sam validate --lint

cfn-lint: $(TEMPLATE_VENV)/.installed
	$(TEMPLATE_VENV)/bin/python tools/sam_translate.py template.yaml .aws-sam-translated.json
	@# W1020/W2001: the translator substitutes some parameter defaults itself (sam validate --lint sees the real use)
	$(TEMPLATE_VENV)/bin/cfn-lint -i W3005 W1020 W2001 -- .aws-sam-translated.json

# Lambda runs python3.13; pyenv on these machines has it but does not put it on PATH.
sam-build: $(TEMPLATE_VENV)/.installed
	@if ! python3.13 -c '' 2>/dev/null; then \
		v=$$(pyenv versions --bare 2>/dev/null | grep -E '^3\.13(\.|$$)' | tail -1); \
		test -n "$$v" || { echo "sam build needs python3.13 on PATH (or in pyenv)" >&2; exit 1; }; \
		export PYENV_VERSION="$$(pyenv version-name):$$v"; \
		PATH="$(CURDIR)/$(TEMPLATE_VENV)/bin:$$PATH" sam build; \
	else PATH="$(CURDIR)/$(TEMPLATE_VENV)/bin:$$PATH" sam build; fi
	@test -d .aws-sam/build/CommonLayer/python/ft_pipeline || { echo "layer misbuilt: no python/ft_pipeline" >&2; exit 1; }

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $@

# on template.yaml, where each skip sits beside the resource it explains (offline: no platform calls)
checkov: $(CHECKOV_VENV)/.installed
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov -f template.yaml --framework cloudformation --quiet --compact \
		--skip-download

template-check: sam-validate cfn-lint checkov sam-build

clean:
	rm -rf .demo .bench .aws-sam .aws-sam-translated.json .pytest_cache .ruff_cache
