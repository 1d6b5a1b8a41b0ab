"""`Module`: the base of every layer. Parameters, buffers and submodules are registered by
assigning them to attributes; names and order follow PyTorch (registration order, depth first),
so state dicts use PyTorch's keys.

A module's `forward` is written over the functional ops, so calling a module works on eager
tensors, inside `gf.compile`, and on static symbolic tensors. In the last case the module's
parameters and buffers are replaced, while `forward` runs, by symbolic values that the input's
handler provides (static mode: one `Variable` per parameter and graph, initialised from the
parameter; see `graphflow.nn.symbolic`)."""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np

from graphflow.eager.grad_mode import no_grad
from graphflow.eager.tensor import Tensor
from graphflow.ir.shapes import fmt
from graphflow.nn.parameter import Buffer, Parameter

__all__ = ["Module", "IncompatibleKeys"]


class IncompatibleKeys(NamedTuple):
    """What `load_state_dict` returns: the keys the module missed and the ones it did not expect."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class _Hook:
    _ids = itertools.count()

    def __init__(self, table: dict) -> None:
        self.table = table
        self.id = next(self._ids)

    def remove(self) -> None:
        self.table.pop(self.id, None)


class Module:
    """Base class for all neural-network modules (torch.nn.Module's interface)."""

    training: bool
    _version: int = 1

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments")
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers_set", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_symbolic", None)  # name -> symbolic value while called on symbolic inputs

    # ---- registration ---------------------------------------------------------------------
    def _check_ready(self, what: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {what} before Module.__init__() call")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or None, a declared but absent parameter such as a missing bias)."""
        self._check_ready("parameters")
        self._check_name(name, "parameter", self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign a {type(param).__name__} as parameter {name!r} "
                            f"(gf.nn.Parameter or None expected)")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a tensor that is state but not a parameter (running statistics); persistent buffers
        go into the state dict."""
        self._check_ready("buffers")
        self._check_name(name, "buffer", self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign a {type(tensor).__name__} as buffer {name!r} (Tensor or None expected)")
        if isinstance(tensor, Buffer):
            persistent = tensor.persistent
            tensor = tensor.detach()
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module (or None)."""
        self._check_ready("child modules")
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"module name must be a non-empty string without '.', got {name!r}")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if hasattr(type(self), name) and name not in self._modules:
            raise KeyError(f"attribute {name!r} already exists")
        self._modules[name] = module

    register_module = add_module

    def _check_name(self, name: str, kind: str, table: dict) -> None:
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"{kind} name must be a non-empty string without '.', got {name!r}")
        if hasattr(type(self), name) and name not in table:
            raise KeyError(f"attribute {name!r} already exists")

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} as parameter {name!r} "
                                f"(gf.nn.Parameter or None expected)")
            params[name] = None
        elif isinstance(value, Module):
            if params is None:
                raise AttributeError("cannot assign a module before Module.__init__() call")
            self._forget(name)
            self._modules[name] = value
        elif d.get("_modules") is not None and name in d["_modules"]:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} as child module {name!r} "
                                f"(Module or None expected)")
            self._modules[name] = None
        elif isinstance(value, Buffer):
            self._forget(name)
            self.register_buffer(name, value)
        elif d.get("_buffers") is not None and name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign a {type(value).__name__} as buffer {name!r} (Tensor or None expected)")
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str) -> None:
        d = self.__dict__
        d.pop(name, None)
        for table in ("_parameters", "_buffers", "_modules"):
            d[table].pop(name, None)
        d["_non_persistent_buffers_set"].discard(name)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        symbolic = d.get("_symbolic")
        if symbolic is not None and name in symbolic:
            return symbolic[name]
        for table in ("_parameters", "_buffers", "_modules"):
            t = d.get(table)
            if t is not None and name in t:
                return t[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for table in ("_parameters", "_buffers", "_modules"):
            t = self.__dict__[table]
            if name in t:
                del t[name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))

    # ---- calling --------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        for hook in list(self._forward_pre_hooks.values()):
            res = hook(self, args)
            if res is not None:
                args = res if isinstance(res, tuple) else (res,)
        from graphflow.nn import symbolic

        binder = symbolic.binder_for(args, kwargs)
        if binder is None:
            out = self.forward(*args, **kwargs)
        else:
            with symbolic.bound(self, binder):
                out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            res = hook(self, args, out)
            if res is not None:
                out = res
        return out

    def register_forward_hook(self, hook: Callable) -> _Hook:
        """hook(module, args, output) runs after forward; a non-None result replaces the output."""
        h = _Hook(self._forward_hooks)
        self._forward_hooks[h.id] = hook
        return h

    def register_forward_pre_hook(self, hook: Callable) -> _Hook:
        """hook(module, args) runs before forward; a non-None result replaces the arguments."""
        h = _Hook(self._forward_pre_hooks)
        self._forward_pre_hooks[h.id] = hook
        return h

    # ---- traversal ------------------------------------------------------------------------
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """(name, module) for this module and every descendant, depth first, each once."""
        if memo is None:
            memo = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, mod = stack.pop()
            if remove_duplicate:
                if id(mod) in memo:
                    continue
                memo.add(id(mod))
            yield name, mod
            children = [(f"{name}.{n}" if name else n, m) for n, m in mod._modules.items() if m is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, table: str, prefix: str, recurse: bool,
                       remove_duplicate: bool = True) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for mod_name, mod in mods:
            for name, value in getattr(mod, table).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{mod_name}.{name}" if mod_name else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(qualified name, parameter) in registration order, depth first; shared ones once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> Module:
        mod: Module = self
        for part in target.split(".") if target else []:
            child = mod._modules.get(part)
            if child is None:
                raise AttributeError(f"{mod._get_name()} has no submodule `{part}` (looking up {target!r})")
            mod = child
        return mod

    def get_parameter(self, target: str) -> Parameter:
        return self._get_member(target, "_parameters", "parameter")

    def get_buffer(self, target: str) -> Tensor:
        return self._get_member(target, "_buffers", "buffer")

    def _get_member(self, target: str, table: str, kind: str) -> Any:
        """The parameter or buffer at a dotted path ("encoder.0.weight")."""
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        member = getattr(mod, table).get(name)
        if member is None:
            raise AttributeError(f"{mod._get_name()} has no {kind} `{name}`")
        return member

    # ---- modes and bulk changes ------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of every parameter (to None by default, as PyTorch 2)."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad = p.grad.detach()
                with no_grad():
                    p.grad.zero_()

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """fn(module) for every submodule (children first) and then this module."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def _apply_to_tensors(self, fn: Callable[[Tensor], Tensor], floating_only: bool = False) -> Module:
        """Replace every parameter's and buffer's storage by fn(tensor) (gradients follow)."""
        for mod in self.modules():
            for p in mod._parameters.values():
                if p is None or (floating_only and p.dtype.kind != "f"):
                    continue
                with no_grad():
                    new = fn(p.detach())
                if new is not p and (new.dtype is not p.dtype or new.device != p.device or new._data is not p._data):
                    p.data = new
                    if p.grad is not None:
                        with no_grad():
                            p.grad = fn(p.grad)
            for name, b in mod._buffers.items():
                if b is None or (floating_only and b.dtype.kind != "f"):
                    continue
                with no_grad():
                    mod._buffers[name] = fn(b)
        return self

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Move or cast parameters and buffers in place: `to(device)`, `to(dtype)`, `to(tensor)`.
        A dtype applies to floating-point tensors only, as in PyTorch."""
        from graphflow.eager.tensor import _parse_to

        dev, dtype, _ = _parse_to(args, dict(kwargs))
        if dtype is not None and dtype.kind != "f":
            raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got desired dtype={dtype.name}")

        def convert(t: Tensor) -> Tensor:
            out = t
            if dtype is not None and t.dtype.kind == "f":
                out = out.to(dtype)
            if dev is not None:
                out = out.to(dev)
            return out

        return self._apply_to_tensors(convert)

    def float(self) -> Module:
        from graphflow.ir.dtypes import float32

        return self.to(float32)

    def double(self) -> Module:
        from graphflow.ir.dtypes import float64

        return self.to(float64)

    def half(self) -> Module:
        from graphflow.ir.dtypes import float16

        return self.to(float16)

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, device: Any = None) -> Module:
        return self.to(device if device is not None else "cuda")

    def type(self, dst_type: Any) -> Module:
        return self.to(dst_type)

    # ---- state dicts ----------------------------------------------------------------------
    def state_dict(self, *args: Any, destination: dict | None = None, prefix: str = "",
                   keep_vars: bool = False) -> OrderedDict:
        """Parameters and persistent buffers by qualified name (tensors share storage with the module)."""
        if args:  # the positional (destination, prefix, keep_vars) form
            destination, prefix, keep_vars = (list(args) + [destination, prefix, keep_vars][len(args):])[:3]
        if destination is None:
            destination = OrderedDict()
        # PyTorch's order: a module's own parameters, then its persistent buffers, then each child's
        # state under its name (a module reachable by two names appears under both)
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            base, mod = stack.pop()
            for name, p in mod._parameters.items():
                if p is not None:
                    destination[base + name] = p if keep_vars else p.detach()
            for name, b in mod._buffers.items():
                if b is not None and name not in mod._non_persistent_buffers_set:
                    destination[base + name] = b if keep_vars else b.detach()
            stack.extend(reversed([(f"{base}{n}.", m) for n, m in mod._modules.items() if m is not None]))
        return destination

    def load_state_dict(self, state_dict: dict, strict: bool = True, assign: bool = False) -> IncompatibleKeys:
        """Copy values from `state_dict` into the parameters and buffers (no_grad). With strict=True,
        missing and unexpected keys raise; shape mismatches always raise. Returns (missing, unexpected)."""
        if not hasattr(state_dict, "items"):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict).__name__}")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            arr = _as_array(value)
            if arr is None:
                errors.append(f'While copying the parameter named "{key}", expected a tensor or array from '
                              f"checkpoint but received {type(value).__name__}")
                continue
            if tuple(arr.shape) != tuple(target.shape):
                errors.append(f"size mismatch for {key}: copying a param with shape {fmt(arr.shape)} from "
                              f"checkpoint, the shape in current model is {fmt(target.shape)}.")
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {self._get_name()}:\n\t" + "\n\t".join(errors))
        for key, target in own.items():
            if key in state_dict:
                self._load_one(key, target, _as_array(state_dict[key]), assign)
        return IncompatibleKeys(missing, unexpected)

    def _load_one(self, key: str, target: Tensor, arr: np.ndarray, assign: bool) -> None:
        mod_path, _, name = key.rpartition(".")
        mod = self.get_submodule(mod_path)
        if assign:
            new = Tensor(np.array(arr, copy=True))
            if name in mod._parameters:
                mod._parameters[name] = Parameter(new, requires_grad=target.requires_grad)
            else:
                mod._buffers[name] = new
            return
        with no_grad():
            target.copy_(Tensor(np.asarray(arr).astype(target.dtype.np, copy=False)))

    # ---- printing -------------------------------------------------------------------------
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The text between the parentheses of this module's repr (layers describe their settings)."""
        return ""

    def short_repr(self) -> str:
        """One line naming the layer in error messages (`Linear(784 -> 128)`)."""
        return f"{self._get_name()}({self.extra_repr()})"

    def __repr__(self) -> str:
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        for name, m in self._modules.items():
            text = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {text}")
        if not lines:
            return f"{self._get_name()}()"
        if len(lines) == 1 and not self._modules:
            return f"{self._get_name()}({lines[0]})"
        return f"{self._get_name()}(\n  " + "\n  ".join(lines) + "\n)"

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


def _as_array(value: Any) -> np.ndarray | None:
    if isinstance(value, Tensor):
        return np.asarray(value.detach().numpy())
    if isinstance(value, np.ndarray | np.generic | int | float | list):
        return np.asarray(value)
    return None
