"""Devices: `gf.device("cpu" | "cuda" | "cuda:0")` and the `gf.cuda` queries."""

from __future__ import annotations

from graphflow.errors import DeviceError

_TYPES = ("cpu", "cuda")


class device:  # noqa: N801 - PyTorch's name
    """Where a tensor lives. Equal devices compare equal; `str()` gives 'cpu' or 'cuda:0'."""

    __slots__ = ("type", "index")

    def __init__(self, spec: str | device, index: int | None = None):
        if isinstance(spec, device):
            self.type, self.index = spec.type, spec.index
            return
        if not isinstance(spec, str):
            raise TypeError(f"device: expected a string like 'cpu' or 'cuda:0', got {spec!r}")
        kind, _, idx = spec.partition(":")
        if kind not in _TYPES:
            raise DeviceError(f"unknown device type {kind!r} in {spec!r}; expected one of {', '.join(_TYPES)}")
        if idx:
            if not idx.isdigit():
                raise DeviceError(f"invalid device index in {spec!r}")
            index = int(idx)
        if kind == "cpu":
            index = None
        elif index is None:
            index = 0
        self.type, self.index = kind, index

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        idx = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{idx})"


CPU = device("cpu")


def as_device(spec: object) -> device:
    if spec is None:
        return CPU
    if isinstance(spec, device):
        return spec
    if isinstance(spec, int):
        return device("cuda", spec)
    return device(spec)  # type: ignore[arg-type]


class cuda:  # noqa: N801 - a namespace, as `torch.cuda`
    """`gf.cuda.is_available()`, `gf.cuda.device_count()`."""

    @staticmethod
    def _reason() -> str | None:
        from graphflow.backends import available

        status = available().get("cuda", "unavailable: unknown")
        return None if status == "available" else status

    @staticmethod
    def is_available() -> bool:
        return cuda._reason() is None

    @staticmethod
    def device_count() -> int:
        if not cuda.is_available():
            return 0
        from graphflow.backends import get_backend

        return int(getattr(get_backend("cuda"), "device_count", lambda: 1)())

    @staticmethod
    def manual_seed(seed: int) -> None:
        from graphflow.random import manual_seed

        manual_seed(seed)

    @staticmethod
    def manual_seed_all(seed: int) -> None:
        cuda.manual_seed(seed)


def require(dev: device) -> None:
    """Raise a clear error when a tensor is asked to move to a device this machine lacks."""
    if dev.type == "cuda":
        from graphflow.eager.devices import overridden

        if overridden("cuda"):
            return
        reason = cuda._reason()
        if reason is not None:
            raise DeviceError(f"cannot use device {dev}: CUDA is not available ({reason}); "
                              "gf.cuda.is_available() is False on this machine")
        if dev.index is not None and dev.index >= cuda.device_count():
            raise DeviceError(f"cannot use device {dev}: only {cuda.device_count()} CUDA device(s) present")
