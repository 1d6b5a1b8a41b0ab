"""`tf.math` (TF1's names): aliases of the functional layer's ops, keeping TF's argument names."""

from __future__ import annotations

from graphflow.static.scans import cumprod, cumsum, cumulative_logsumexp, top_k

__all__ = ["cumprod", "cumsum", "cumulative_logsumexp", "top_k"]
