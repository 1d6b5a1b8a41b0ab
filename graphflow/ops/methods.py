"""`TensorMethods`: the operators and methods every tensor-like value shares (eager tensors,
static symbolic tensors, tracers). Each forwards to the functional layer, so a method is written
once for all modes. Subclasses provide `shape`, `dtype`, `_gf_handler`, and the mode-specific
parts (`to`, `numpy`, `backward`, in-place ops...)."""

from __future__ import annotations

from typing import Any

from graphflow.ir import dtypes as D
from graphflow.ops import comparison as CMP
from graphflow.ops import elementwise as E
from graphflow.ops import gathering as G
from graphflow.ops import linalg as L
from graphflow.ops import pointwise as PW
from graphflow.ops import products as PR
from graphflow.ops import reductions as R
from graphflow.ops import sampling as SMP
from graphflow.ops import scans as SCN
from graphflow.ops import scattering as X
from graphflow.ops import selection as SEL
from graphflow.ops import shape as S
from graphflow.ops import sorting as SRT
from graphflow.ops import statistics as ST
from graphflow.ops import tiling as TL
from graphflow.ops import triangular as TRI
from graphflow.ops.values import cast


def _swap(fn):
    def reflected(self, other):
        return fn(other, self)

    return reflected


class TensorMethods:
    __slots__ = ()
    # make numpy defer to our reflected operators (ndarray + tensor -> tensor.__radd__)
    __array_priority__ = 1000

    # ---- arithmetic operators -------------------------------------------------------------
    __add__ = E.add
    __radd__ = _swap(E.add)
    __sub__ = E.sub
    __rsub__ = _swap(E.sub)
    __mul__ = E.mul
    __rmul__ = _swap(E.mul)
    __truediv__ = E.div
    __rtruediv__ = _swap(E.div)
    __floordiv__ = E.floor_divide
    __rfloordiv__ = _swap(E.floor_divide)
    __mod__ = E.remainder
    __rmod__ = _swap(E.remainder)
    __pow__ = E.pow
    __rpow__ = _swap(E.pow)
    __matmul__ = L.matmul
    __rmatmul__ = _swap(L.matmul)
    __neg__ = E.neg
    __abs__ = E.abs

    def __pos__(self):
        return self

    def __invert__(self):
        return E.bitwise_not(self)

    def __and__(self, other):
        return E.logical_and(self, other) if self.dtype is D.bool_ else E.bitwise_and(self, other)

    def __or__(self, other):
        return E.logical_or(self, other) if self.dtype is D.bool_ else E.bitwise_or(self, other)

    def __xor__(self, other):
        return E.logical_xor(self, other) if self.dtype is D.bool_ else E.bitwise_xor(self, other)

    __rand__ = __and__
    __ror__ = __or__
    __rxor__ = __xor__

    # ---- comparisons (elementwise, bool results) -------------------------------------------
    __eq__ = E.eq  # type: ignore[assignment]
    __ne__ = E.ne  # type: ignore[assignment]
    __lt__ = E.lt
    __le__ = E.le
    __gt__ = E.gt
    __ge__ = E.ge
    __hash__ = object.__hash__

    # ---- shape information ----------------------------------------------------------------
    @property
    def ndim(self) -> int:
        return len(self.shape)

    def dim(self) -> int:
        return len(self.shape)

    def size(self, dim: int | None = None):
        if dim is None:
            return self.shape
        from graphflow.ir.shapes import normalize_axis

        return self.shape[normalize_axis(dim, len(self.shape), "size")]

    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n = n * d
        return n

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    @property
    def T(self):  # noqa: N802 - PyTorch's name
        return S.permute(self, tuple(reversed(range(len(self.shape)))))

    @property
    def mT(self):  # noqa: N802
        return S.transpose(self, -2, -1)

    @property
    def is_floating_point_dtype(self) -> bool:
        return self.dtype.is_floating_point

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating_point

    # ---- elementwise math -----------------------------------------------------------------
    add = E.add
    sub = E.sub
    mul = E.mul
    div = E.div
    true_divide = E.div
    floor_divide = E.floor_divide
    remainder = E.remainder
    pow = E.pow
    maximum = E.maximum
    minimum = E.minimum
    eq = E.eq
    ne = E.ne
    lt = E.lt
    le = E.le
    gt = E.gt
    ge = E.ge
    logical_and = E.logical_and
    logical_or = E.logical_or
    logical_xor = E.logical_xor
    logical_not = E.logical_not
    abs = E.abs
    neg = E.neg
    negative = E.neg
    sign = E.sign
    floor = E.floor
    ceil = E.ceil
    round = E.round
    trunc = E.trunc
    exp = E.exp
    expm1 = E.expm1
    log = E.log
    log1p = E.log1p
    log2 = E.log2
    log10 = E.log10
    sin = E.sin
    cos = E.cos
    tan = E.tan
    tanh = E.tanh
    sigmoid = E.sigmoid
    sqrt = E.sqrt
    rsqrt = E.rsqrt
    reciprocal = E.reciprocal
    erf = E.erf
    square = E.square
    relu = E.relu
    clamp = E.clamp
    clip = E.clamp
    isnan = E.isnan
    isinf = E.isinf
    isfinite = E.isfinite
    lerp = E.lerp

    nan_to_num = PW.nan_to_num
    frac = PW.frac
    exp2 = PW.exp2
    hypot = PW.hypot
    fmod = PW.fmod
    isclose = CMP.isclose
    allclose = CMP.allclose
    equal = CMP.equal

    def where(self, condition, other):
        """x.where(cond, y) == where(cond, x, y)"""
        return E.where(condition, self, other)

    def clamp_min(self, min):  # noqa: A002
        return E.clamp(self, min=min)

    def clamp_max(self, max):  # noqa: A002
        return E.clamp(self, max=max)

    # ---- reductions -----------------------------------------------------------------------
    sum = R.sum
    mean = R.mean
    prod = R.prod
    max = R.max
    min = R.min
    amax = R.amax
    amin = R.amin
    argmax = R.argmax
    argmin = R.argmin
    var = R.var
    std = R.std
    logsumexp = R.logsumexp
    all = R.all
    any = R.any
    softmax = R.softmax
    log_softmax = R.log_softmax
    norm = R.norm
    count_nonzero = ST.count_nonzero

    # ---- scans, sorting, data-dependent selection, sampling --------------------------------
    cumsum = SCN.cumsum
    cumprod = SCN.cumprod
    cummax = SCN.cummax
    cummin = SCN.cummin
    logcumsumexp = SCN.logcumsumexp
    diff = SCN.diff
    sort = SRT.sort
    argsort = SRT.argsort
    msort = SRT.msort
    topk = SRT.topk
    kthvalue = SRT.kthvalue
    median = SRT.median
    nanmedian = SRT.nanmedian
    quantile = SRT.quantile
    nanquantile = SRT.nanquantile
    nonzero = SEL.nonzero
    argwhere = SEL.argwhere
    masked_select = SEL.masked_select
    unique = SEL.unique
    bincount = SEL.bincount
    multinomial = SMP.multinomial

    def bernoulli(self, p=None, *, generator=None):
        return SMP.bernoulli(self, p, generator=generator)

    # ---- linear algebra -------------------------------------------------------------------
    matmul = L.matmul
    mm = L.mm
    bmm = L.bmm
    dot = L.dot
    outer = L.outer
    inner = PR.inner
    addmm = PR.addmm
    baddbmm = PR.baddbmm
    addmv = PR.addmv
    tril = TRI.tril
    triu = TRI.triu
    diag = TRI.diag
    diag_embed = TRI.diag_embed
    diagonal = TRI.diagonal
    trace = TRI.trace

    # ---- shape ----------------------------------------------------------------------------
    reshape = S.reshape
    view = S.view
    permute = S.permute
    transpose = S.transpose
    t = S.t
    squeeze = S.squeeze
    unsqueeze = S.unsqueeze
    flatten = S.flatten
    expand = S.expand
    repeat = S.repeat
    split = S.split
    chunk = S.chunk
    unbind = S.unbind
    flip = S.flip
    narrow = S.narrow
    movedim = S.movedim
    roll = TL.roll
    tile = TL.tile

    def expand_as(self, other):
        return S.expand(self, tuple(other.shape))

    def view_as(self, other):
        return S.reshape(self, tuple(other.shape))

    def reshape_as(self, other):
        return S.reshape(self, tuple(other.shape))

    def broadcast_to(self, shape):
        return S.expand(self, tuple(shape))

    def swapaxes(self, a: int, b: int):
        return S.transpose(self, a, b)

    # ---- dtype conversion -----------------------------------------------------------------
    def type_as(self, other):
        return cast(self, other.dtype)

    def float(self):
        return cast(self, D.float32)

    def double(self):
        return cast(self, D.float64)

    def half(self):
        return cast(self, D.float16)

    def bfloat16(self):
        return cast(self, D.bfloat16)

    def long(self):
        return cast(self, D.int64)

    def int(self):
        return cast(self, D.int32)

    def short(self):
        return cast(self, D.int16)

    def bool(self):
        return cast(self, D.bool_)

    def byte(self):
        return cast(self, D.uint8)

    def char(self):
        return cast(self, D.int8)

    # ---- indexing -------------------------------------------------------------------------
    def __getitem__(self, key: Any):
        from graphflow.ops.indexing import getitem

        return getitem(self, key)

    # gathering and scattering by index tensors (in-place forms: eager Tensor and Tracer)
    gather = G.gather
    take_along_dim = G.take_along_dim
    index_select = G.index_select
    scatter = X.scatter
    scatter_add = X.scatter_add
    masked_fill = X.masked_fill
    index_put = X.index_put
    index_add = X.index_add

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))
