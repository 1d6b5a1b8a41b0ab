"""Whether this machine can run the cuda backend, and if not, exactly why."""

from __future__ import annotations

import importlib
import importlib.util

NOT_INSTALLED = "PyCUDA is not installed"
NO_DRIVER = "no CUDA driver"
NO_DEVICE = "no CUDA device"
_INSTALL_HINT = " (pip install 'graphflow[cuda]'; see the README)"


def probe() -> tuple[bool, str]:
    """(True, "available") or (False, reason); the reason starts with one of NOT_INSTALLED,
    NO_DRIVER or NO_DEVICE. Never raises: a broken PyCUDA is a reason, not a crash."""
    try:
        if importlib.util.find_spec("pycuda") is None:
            return False, NOT_INSTALLED + _INSTALL_HINT
    except (ImportError, ValueError):
        return False, NOT_INSTALLED + _INSTALL_HINT
    try:
        drv = importlib.import_module("pycuda.driver")
    except ImportError as exc:  # the extension links libcuda: missing means no driver
        return False, f"{NO_DRIVER} ({exc})"
    except Exception as exc:  # noqa: BLE001 - any failure to load is a reason to report
        return False, f"{NO_DRIVER} (PyCUDA failed to load: {type(exc).__name__}: {exc})"
    try:
        drv.init()
    except Exception as exc:  # noqa: BLE001
        return False, f"{NO_DRIVER} ({exc})"
    try:
        count = drv.Device.count()
    except Exception as exc:  # noqa: BLE001
        return False, f"{NO_DEVICE} ({exc})"
    if count == 0:
        return False, NO_DEVICE
    return True, "available"
