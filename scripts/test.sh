#!/usr/bin/env bash
# Set up .venv and run the linter and the full test suite (shared-data tests included
# when ../shared/data exists; in CI, CI=true makes their absence an error).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests benchmarks examples
.venv/bin/ruff format --check src tests benchmarks examples
.venv/bin/python -m pytest -q "$@"
