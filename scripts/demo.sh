#!/usr/bin/env bash
# Set up .venv and run the main example (examples/demo.py) on data it generates itself.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python examples/demo.py "$@"
