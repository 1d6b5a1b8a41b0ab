#!/usr/bin/env bash
# Set up (if needed) and run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh "dev,bench"
if [ -f benchmarks/train.py ]; then
  exec .venv/bin/python -m benchmarks.train "$@"
fi
exec .venv/bin/python -m benchmarks.demo "$@"
