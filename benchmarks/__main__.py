"""`python -m benchmarks`: the benchmark harness (see `benchmarks/cli.py`)."""

import sys

from benchmarks.cli import main

sys.exit(main())
