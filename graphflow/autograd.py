"""`gf.autograd`: functional access to eager mode's gradients (as `torch.autograd`)."""

from __future__ import annotations

from graphflow.eager.engine import backward, grad
from graphflow.eager.grad_mode import enable_grad, no_grad, set_grad_enabled

__all__ = ["grad", "backward", "no_grad", "enable_grad", "set_grad_enabled"]
