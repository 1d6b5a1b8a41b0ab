"""graphflow: a deep-learning framework with eager (PyTorch-style) and static (TF1-style) modes
lowered to one op graph, optimised, compiled and differentiated symbolically."""

from graphflow.ir.dtypes import (
    bfloat16,
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    uint8,
)
from graphflow.ir.dtypes import bool_ as bool  # noqa: A001 - PyTorch's name
from graphflow.ir.dtypes import DType as dtype  # noqa: N813
from graphflow import backends

float = float32  # noqa: A001
double = float64
half = float16
long = int64
int = int32  # noqa: A001
short = int16

__version__ = "0.1.0"
