#!/usr/bin/env bash
# Set up .venv (with the dev and bench extras) if needed, then run the main job: the digits MLP
# trained in every mode. Arguments go to graphflow-train (e.g. --quick, --epochs 5, --modes eager,static).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh "dev,bench"
exec .venv/bin/python -m benchmarks.train "$@"
