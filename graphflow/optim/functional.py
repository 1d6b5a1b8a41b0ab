"""Pure optimizer update rules over values.

Each rule takes a parameter, its gradient and the optimizer state as values (eager tensors,
static symbolic tensors, tracers or plain graph nodes — anything `graphflow.ops` accepts) and
returns the new parameter and the new state as fresh values; nothing is modified in place. The
same functions therefore serve eager optimizers (`graphflow.optim.SGD`, ...), training steps
traced by `gf.compile`, and static mode's `train.*Optimizer` / `.minimize(loss)`, which assign
the returned values to their variables.

Hyper-parameters (`lr`, `momentum`, betas, ...) may be Python numbers or scalar values (a
learning rate fed at run time); `step` may be a Python number or an integer/float scalar value.

Signatures (all keyword arguments after `*` are required unless a default is shown):

``sgd_update(param, grad, momentum_buf=None, *, lr, momentum=0.0, dampening=0.0,
nesterov=False, weight_decay=0.0, maximize=False) -> SGDResult(param, momentum_buffer)``
    PyTorch's SGD. ``momentum_buf=None`` means "first step": the buffer starts as the gradient
    itself (no dampening on the first step, as in PyTorch). Passing a zero-initialised buffer
    instead gives ``buf = momentum * 0 + (1 - dampening) * g``, which equals PyTorch's first
    step when ``dampening == 0`` — this is TF1's ``MomentumOptimizer`` (``accum = momentum *
    accum + g; var -= lr * accum``; ``use_nesterov`` maps to ``nesterov``). With
    ``momentum == 0`` the returned buffer is None and the rule is plain gradient descent
    (TF1's ``GradientDescentOptimizer``).

``adam_update(param, grad, exp_avg, exp_avg_sq, step, *, lr=1e-3, beta1=0.9, beta2=0.999,
eps=1e-8, weight_decay=0.0, decoupled_weight_decay=False, amsgrad=False, max_exp_avg_sq=None,
maximize=False, epsilon_hat=False) -> AdamResult(param, exp_avg, exp_avg_sq, max_exp_avg_sq)``
    Adam (Kingma & Ba) as PyTorch computes it; ``step`` is the 1-based count of this update.
    ``decoupled_weight_decay=True`` is AdamW (``param *= 1 - lr * weight_decay`` first);
    otherwise ``weight_decay`` is L2 added to the gradient. ``amsgrad`` needs
    ``max_exp_avg_sq`` (zeros at the start) and returns its new value (None otherwise).
    ``epsilon_hat=True`` is TF1's ``AdamOptimizer`` form: ``lr_t = lr * sqrt(1 - beta2^t) /
    (1 - beta1^t)`` and ``param -= lr_t * m / (sqrt(v) + eps)`` (eps added before the bias
    correction of v rather than after).

``rmsprop_update(param, grad, square_avg, momentum_buf=None, grad_avg=None, *, lr=1e-2,
alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False, maximize=False)
-> RMSpropResult(param, square_avg, momentum_buffer, grad_avg)``
    PyTorch's RMSprop. ``momentum_buf`` (zeros at the start) is required when
    ``momentum > 0``; ``grad_avg`` (zeros at the start) when ``centered``; the entries not in
    use are returned as None.
"""

from __future__ import annotations

import math
from numbers import Number
from typing import Any, NamedTuple

from graphflow.ops import elementwise as E
from graphflow.ops.elementwise import maximum, neg, pow, sqrt
from graphflow.ops.values import cast

__all__ = ["SGDResult", "AdamResult", "RMSpropResult", "sgd_update", "adam_update", "rmsprop_update"]


class SGDResult(NamedTuple):
    param: Any
    momentum_buffer: Any


class AdamResult(NamedTuple):
    param: Any
    exp_avg: Any
    exp_avg_sq: Any
    max_exp_avg_sq: Any


class RMSpropResult(NamedTuple):
    param: Any
    square_avg: Any
    momentum_buffer: Any
    grad_avg: Any


def _binary(fn: Any, method: str) -> Any:
    """fn(a, b), through a's operator when it has one, so a value kind's fast path for Python
    scalars applies (eager tensors skip the broadcast); plain graph nodes use the function."""

    def op(a: Any, b: Any) -> Any:
        bound = getattr(a, method, None)
        if bound is not None and not isinstance(a, Number):
            out = bound(b)
            if out is not NotImplemented:
                return out
        return fn(a, b)

    op.__name__ = fn.__name__
    return op


add, sub, mul, div = (_binary(E.add, "__add__"), _binary(E.sub, "__sub__"), _binary(E.mul, "__mul__"),
                      _binary(E.div, "__truediv__"))


def _is_zero(x: Any) -> bool:
    return isinstance(x, Number) and x == 0


def _scale(x: Any, factor: Any) -> Any:
    """x * factor, skipping the multiply for a Python 1."""
    return x if isinstance(factor, Number) and factor == 1 else mul(x, factor)


def _direction(param: Any, grad: Any, weight_decay: Any, maximize: bool) -> Any:
    """The gradient the rules follow: negated when maximising, plus L2 weight decay."""
    g = neg(grad) if maximize else grad
    if not _is_zero(weight_decay):
        g = add(g, mul(param, weight_decay))
    return g


def _one_minus_power(beta: Any, step: Any) -> Any:
    """1 - beta ** step, exactly in Python when both are numbers."""
    if isinstance(beta, Number) and isinstance(step, Number):
        return 1.0 - float(beta) ** float(step)
    return sub(1.0, pow(beta, step))


def _sqrt(x: Any) -> Any:
    return math.sqrt(x) if isinstance(x, Number) else sqrt(x)


def sgd_update(param: Any, grad: Any, momentum_buf: Any = None, *, lr: Any, momentum: Any = 0.0,
               dampening: Any = 0.0, nesterov: bool = False, weight_decay: Any = 0.0,
               maximize: bool = False) -> SGDResult:
    """One step of (momentum, Nesterov) SGD; see the module docstring."""
    if nesterov and (_is_zero(momentum) or not _is_zero(dampening)):
        raise ValueError("sgd_update: Nesterov momentum requires a momentum and zero dampening")
    g = _direction(param, grad, weight_decay, maximize)
    buf = None
    if not _is_zero(momentum):
        if momentum_buf is None:
            buf = g  # PyTorch: the first step's buffer is the gradient, undampened
        else:
            buf = add(mul(momentum_buf, momentum), _scale(g, _one_minus(dampening)))
        g = add(g, mul(buf, momentum)) if nesterov else buf
    return SGDResult(sub(param, _scale(g, lr)), buf)


def _one_minus(x: Any) -> Any:
    return 1.0 - x if isinstance(x, Number) else sub(1.0, x)


def adam_update(param: Any, grad: Any, exp_avg: Any, exp_avg_sq: Any, step: Any, *, lr: Any = 1e-3,
                beta1: Any = 0.9, beta2: Any = 0.999, eps: Any = 1e-8, weight_decay: Any = 0.0,
                decoupled_weight_decay: bool = False, amsgrad: bool = False, max_exp_avg_sq: Any = None,
                maximize: bool = False, epsilon_hat: bool = False) -> AdamResult:
    """One Adam / AdamW step; see the module docstring."""
    if amsgrad and max_exp_avg_sq is None:
        raise ValueError("adam_update: amsgrad=True needs max_exp_avg_sq (zeros at the first step)")
    g = neg(grad) if maximize else grad
    if decoupled_weight_decay:
        if not _is_zero(weight_decay):
            param = mul(param, _one_minus(lr * weight_decay if isinstance(lr, Number) and isinstance(
                weight_decay, Number) else mul(lr, weight_decay)))
    elif not _is_zero(weight_decay):
        g = add(g, mul(param, weight_decay))
    m = add(mul(exp_avg, beta1), _scale(g, _one_minus(beta1)))
    v = add(mul(exp_avg_sq, beta2), _scale(mul(g, g), _one_minus(beta2)))
    if not isinstance(step, Number):
        step = cast(step, param.dtype)  # bias corrections in the parameter's precision
    bc1 = _one_minus_power(beta1, step)
    bc2 = _one_minus_power(beta2, step)
    v_hat = v
    new_max = None
    if amsgrad:
        new_max = maximum(max_exp_avg_sq, v)
        v_hat = new_max
    if epsilon_hat:
        lr_t = div(mul(lr, _sqrt(bc2)), bc1) if not all(isinstance(a, Number) for a in (lr, bc1, bc2)) \
            else lr * math.sqrt(bc2) / bc1
        update = mul(div(m, add(sqrt(v_hat), eps)), lr_t)
    else:
        step_size = lr / bc1 if isinstance(lr, Number) and isinstance(bc1, Number) else div(lr, bc1)
        denom = add(div(sqrt(v_hat), _sqrt(bc2)), eps)
        update = mul(div(m, denom), step_size)
    return AdamResult(sub(param, update), m, v, new_max)


def rmsprop_update(param: Any, grad: Any, square_avg: Any, momentum_buf: Any = None, grad_avg: Any = None, *,
                   lr: Any = 1e-2, alpha: Any = 0.99, eps: Any = 1e-8, weight_decay: Any = 0.0,
                   momentum: Any = 0.0, centered: bool = False, maximize: bool = False) -> RMSpropResult:
    """One RMSprop step; see the module docstring."""
    use_momentum = not _is_zero(momentum)
    if use_momentum and momentum_buf is None:
        raise ValueError("rmsprop_update: momentum > 0 needs momentum_buf (zeros at the first step)")
    if centered and grad_avg is None:
        raise ValueError("rmsprop_update: centered=True needs grad_avg (zeros at the first step)")
    g = _direction(param, grad, weight_decay, maximize)
    sq = add(mul(square_avg, alpha), _scale(mul(g, g), _one_minus(alpha)))
    new_grad_avg = None
    if centered:
        new_grad_avg = add(mul(grad_avg, alpha), _scale(g, _one_minus(alpha)))
        avg = add(sqrt(sub(sq, mul(new_grad_avg, new_grad_avg))), eps)
    else:
        avg = add(sqrt(sq), eps)
    new_buf = None
    if use_momentum:
        new_buf = add(mul(momentum_buf, momentum), div(g, avg))
        new_param = sub(param, _scale(new_buf, lr))
    else:
        new_param = sub(param, _scale(div(g, avg), lr))
    return RMSpropResult(new_param, sq, new_buf, new_grad_avg)
