"""``Module``: the base of layers, holding parameters, buffers and child modules."""

from __future__ import annotations

import itertools
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

from convkit.autograd.tensor import Tensor
from convkit.nn.parameter import Parameter

__all__ = ["Module", "RemovableHandle", "ranked", "_IncompatibleKeys"]


def _add_indent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


def _type_name(value: Any) -> str:
    """``convkit.FloatTensor`` for tensors (as PyTorch names them), else the class name."""
    return value.type() if isinstance(value, Tensor) else type(value).__name__


class _IncompatibleKeys(NamedTuple):
    """The keys ``load_state_dict`` found missing or unexpected (PyTorch's namedtuple)."""

    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (f"_IncompatibleKeys(missing_keys={self.missing_keys}, "
                f"unexpected_keys={self.unexpected_keys})")

    __str__ = __repr__


class RemovableHandle:
    """Removes the hook it was returned for: ``handle.remove()``, or leave a ``with`` block.

    PyTorch's ``torch.utils.hooks.RemovableHandle``: it holds only weak references to the
    hook tables, so a handle kept after its module is gone removes nothing and keeps
    nothing alive. ``extra_dicts`` are the side tables (``with_kwargs``, ``always_call``)
    whose entry for the same id goes too.
    """

    _ids = itertools.count()  # one sequence for every handle: ids order registrations

    def __init__(self, hooks_dict: OrderedDict, *extra_dicts: OrderedDict) -> None:
        self.id = next(RemovableHandle._ids)
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.extra_dict_ref = tuple(weakref.ref(d) for d in extra_dicts)

    def remove(self) -> None:
        for ref in (self.hooks_dict_ref, *self.extra_dict_ref):
            table = ref()
            if table is not None:
                table.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()

    def __repr__(self) -> str:
        return f"<RemovableHandle id={self.id}>"


_HOOK_TABLES = ("_forward_hooks", "_forward_hooks_with_kwargs", "_forward_hooks_always_called",
                "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs")


class Module:
    """Base class of layers: assign Parameters and Modules as attributes to register them."""

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers_set", set())
        object.__setattr__(self, "training", True)
        for table in _HOOK_TABLES:
            object.__setattr__(self, table, OrderedDict())

    # ------------------------------------------------------------ registration
    def __setattr__(self, name: str, value: Any) -> None:
        """Register Parameters and Modules; refuse anything else in a parameter's or a
        child module's slot (as PyTorch does) rather than silently unregistering it."""
        params = self.__dict__.get("_parameters")
        if params is None:
            raise AttributeError("cannot assign attributes before Module.__init__() call")
        if isinstance(value, Parameter):
            for table in (self.__dict__, self._buffers, self._modules):
                table.pop(name, None)
            params[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{_type_name(value)}' as parameter '{name}' "
                                "(convkit.nn.Parameter or None expected)")
            params[name] = None
        elif isinstance(value, Module):
            for table in (self.__dict__, params, self._buffers):
                table.pop(name, None)
            self._modules[name] = value
        elif name in self._modules:
            if value is not None:
                raise TypeError(f"cannot assign '{_type_name(value)}' as child module '{name}' "
                                "(convkit.nn.Module or None expected)")
            self._modules[name] = None
        elif name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{_type_name(value)}' as buffer '{name}' "
                                "(convkit.Tensor or None expected)")
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        for table in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(table)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                self._non_persistent().discard(name)
                return
        object.__delattr__(self, name)

    def _check_name(self, name: Any, kind: str, table: dict) -> None:
        """PyTorch's checks on a new parameter/buffer/module name."""
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {kind} before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')
        if hasattr(self, name) and name not in table:
            if name in self.__dict__ and self.__dict__[name] is None:
                # ``self.bias = None`` then ``register_parameter("bias", None)`` (a pattern
                # convkit's own layers use): the plain None attribute gives way to the slot.
                del self.__dict__[name]
                return
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add ``param`` (or a ``None`` slot) under ``name``, as PyTorch does."""
        self._check_name(name, "parameter", self.__dict__.get("_parameters", {}))
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{_type_name(param)}' object to parameter "
                            f"'{name}' (convkit.nn.Parameter or None required)")
        if param is not None and param.grad_fn is not None:
            raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model "
                             f"parameters must be created explicitly. To express '{name}' as a "
                             "function of another Tensor, compute the value in the forward() "
                             "method.")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a tensor that is state but not a parameter (``persistent=False``: not saved
        in ``state_dict``)."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        self._check_name(name, "buffer", self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{_type_name(tensor)}' object to buffer "
                            f"'{name}' (convkit.Tensor or None required)")
        self._buffers[name] = tensor
        non_persistent = self._non_persistent()
        if persistent:
            non_persistent.discard(name)
        else:
            non_persistent.add(name)

    def _non_persistent(self) -> set[str]:
        return self.__dict__.setdefault("_non_persistent_buffers_set", set())

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module under ``name`` (``None`` keeps an empty slot)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{_type_name(module)} is not a Module subclass")
        self._check_name(name, "module", self.__dict__.get("_modules", {}))
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        """The module at a dotted path such as ``"features.0"`` (``""`` is ``self``)."""
        module = self
        for item in target.split(".") if target else []:
            if item not in module._modules or module._modules[item] is None:
                raise AttributeError(f"{module._get_name()} has no attribute `{item}`")
            module = module._modules[item]
        return module

    def get_parameter(self, target: str) -> Parameter:
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if name not in module._parameters:
            raise AttributeError(f"{module._get_name()} has no parameter `{name}`")
        return module._parameters[name]

    # ------------------------------------------------------------ traversal
    def named_modules(self, memo: set[int] | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """``(dotted name, module)`` for this module and all below it, depth first."""
        memo = set() if memo is None else memo
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name,
                                               remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def _named_members(self, table: str, prefix: str, recurse: bool, remove_duplicate: bool
                       ) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        modules = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                   if recurse else [(prefix, self)])
        for module_prefix, module in modules:
            for name, value in module.__dict__[table].items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(dotted name, parameter)`` pairs; a shared parameter is listed once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ------------------------------------------------------------ state dict
    def _local_state(self) -> dict[str, Tensor]:
        """This module's own saved entries: parameters, then persistent buffers."""
        non_persistent = self.__dict__.get("_non_persistent_buffers_set", set())
        state = {k: v for k, v in self._parameters.items() if v is not None}
        state.update((k, v) for k, v in self._buffers.items()
                     if v is not None and k not in non_persistent)
        return state

    def state_dict(self, *args: Any, destination: Any = None, prefix: str = "",
                   keep_vars: bool = False) -> dict[str, Tensor]:
        """PyTorch's flat ``{dotted name: tensor}`` map of parameters and persistent buffers.

        Tensors are detached aliases of the module's memory (``keep_vars=True``: the
        parameters themselves); shared parameters appear under every name, as in PyTorch.
        """
        if args:  # PyTorch's deprecated positional form: (destination, prefix, keep_vars)
            destination = args[0]
            if len(args) > 1:
                prefix = args[1]
            if len(args) > 2:
                keep_vars = args[2]
        if destination is None:
            destination = OrderedDict()
        for name, value in self._local_state().items():
            destination[prefix + name] = value if keep_vars else value.detach()
        for name, child in self._modules.items():
            if child is not None:
                child.state_dict(destination=destination, prefix=f"{prefix}{name}.",
                                 keep_vars=keep_vars)
        return destination

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False
                        ) -> _IncompatibleKeys:
        """Copy ``state_dict`` into this module's parameters and buffers.

        Every key, type and shape is checked before anything is written, so a failing load
        leaves the module untouched (PyTorch copies as it goes). ``strict=True`` makes missing
        and unexpected keys errors; either way they are returned as ``_IncompatibleKeys``.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing: list[str] = []
        unexpected: list[str] = []
        errors: list[str] = []
        copies: list[tuple[Module, str, Tensor, Tensor]] = []
        for prefix, module in self.named_modules(remove_duplicate=False):
            prefix = f"{prefix}." if prefix else ""
            local = module._local_state()
            for name, target in local.items():
                key = prefix + name
                if key not in state_dict:
                    missing.append(key)
                    continue
                value = state_dict[key]
                if not isinstance(value, Tensor):
                    errors.append(f'While copying the parameter named "{key}", expected '
                                  "convkit.Tensor or Tensor-like object from checkpoint but "
                                  f"received {type(value)}")
                    continue
                if tuple(value.shape) != tuple(target.shape):
                    errors.append(f"size mismatch for {key}: copying a param with shape "
                                  f"{value.shape} from checkpoint, the shape in current model "
                                  f"is {target.shape}.")
                    continue
                copies.append((module, name, target, value))
            for key in state_dict:
                if key.startswith(prefix):
                    head = key[len(prefix):].split(".", 1)[0]
                    if head not in module._modules and head not in local:
                        unexpected.append(key)
        # A key can be both below one module's prefix and one of its children's: keep the
        # first report only (PyTorch reports a key once).
        unexpected = list(dict.fromkeys(unexpected))
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in unexpected)))
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in missing)))
        if errors:
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
                self._get_name(), "\n\t".join(errors)))
        from convkit.autograd.grad_mode import no_grad

        with no_grad():
            for module, name, target, value in copies:
                if assign:
                    if name in module._parameters:
                        new = value if isinstance(value, Parameter) else Parameter(
                            value, requires_grad=target.requires_grad)
                        module._parameters[name] = new
                    else:
                        module._buffers[name] = value
                else:
                    target.copy_(value)
        return _IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------ mode, dtype
    def train(self, mode: bool = True) -> Module:
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        object.__setattr__(self, "training", mode)
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                if p.grad.grad_fn is not None:
                    p.grad.detach_()
                else:
                    p.grad.requires_grad_(False)
                p.grad.zero_()

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def apply(self, fn: Any) -> Module:
        """Call ``fn`` on every child (recursively), then on ``self``; returns ``self``."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def _apply(self, fn: Any) -> Module:
        """Convert every parameter, gradient and buffer with ``fn``, keeping the Parameter
        objects (their ``.data`` is replaced), so optimizers holding them stay valid."""
        for child in self.children():
            child._apply(fn)
        from convkit.autograd.grad_mode import no_grad

        with no_grad():
            for param in self._parameters.values():
                if param is None:
                    continue
                param.data = fn(param.data)
                if param.grad is not None:
                    param._grad = fn(param.grad.detach())
            for name, buf in self._buffers.items():
                if buf is not None:
                    self._buffers[name] = fn(buf)
        return self

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """``to(dtype)``, ``to(device)``, ``to(tensor)``: floating-point and complex tensors
        take the dtype; integer buffers are left alone (PyTorch's rule)."""
        from convkit import _dtypes
        from convkit.autograd.tensor import device as _device

        dtype = kwargs.pop("dtype", None)
        dev = kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"to() got an unexpected keyword argument '{next(iter(kwargs))}'")
        for arg in args:
            if isinstance(arg, _dtypes.dtype):
                dtype = arg
            elif isinstance(arg, Tensor):
                dtype = arg.dtype
            elif isinstance(arg, str | _device):
                dev = arg
            elif isinstance(arg, bool):
                continue
            else:
                raise TypeError(f"to() received an invalid argument: {arg!r}")
        if dev is not None:
            _device(dev)  # raises for anything but the CPU
        if dtype is None:
            return self
        if not (dtype.is_floating_point or dtype.is_complex):
            raise TypeError("nn.Module.to only accepts floating point or complex dtypes, but "
                            f"got desired dtype={dtype}")

        def convert(t: Tensor) -> Tensor:
            if t.is_floating_point() or t.is_complex():
                return t.to(dtype)
            return t

        return self._apply(convert)

    def _float_cast(self, dtype: Any) -> Module:
        return self._apply(lambda t: t.to(dtype) if t.is_floating_point() else t)

    def float(self) -> Module:
        from convkit import _dtypes

        return self._float_cast(_dtypes.float32)

    def double(self) -> Module:
        from convkit import _dtypes

        return self._float_cast(_dtypes.float64)

    def half(self) -> Module:
        from convkit import _dtypes

        return self._float_cast(_dtypes.float16)

    def cpu(self) -> Module:
        return self

    # ------------------------------------------------------------ calling
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  '"forward" function')

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        state = self.__dict__
        if not (state.get("_forward_hooks") or state.get("_forward_pre_hooks")):
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    def _call_with_hooks(self, args: tuple, kwargs: dict) -> Any:
        """``forward`` between its pre-hooks and hooks, in PyTorch's order and rules."""
        result = None
        hooks = list(self._forward_hooks.items())
        with_kwargs = self._forward_hooks_with_kwargs
        always = self._forward_hooks_always_called
        already_called: set[int] = set()
        try:
            pre_with_kwargs = self._forward_pre_hooks_with_kwargs
            for hook_id, hook in list(self._forward_pre_hooks.items()):
                if hook_id in pre_with_kwargs:
                    replaced = hook(self, args, kwargs)
                    if replaced is not None:
                        if not (isinstance(replaced, tuple) and len(replaced) == 2):
                            raise RuntimeError("forward pre-hook must return None or a tuple "
                                               f"of (new_args, new_kwargs), but got {replaced}.")
                        args, kwargs = replaced
                else:
                    replaced = hook(self, args)
                    if replaced is not None:
                        args = replaced if isinstance(replaced, tuple) else (replaced,)
            result = self.forward(*args, **kwargs)
            for hook_id, hook in hooks:
                if hook_id in always:
                    already_called.add(hook_id)
                out = (hook(self, args, kwargs, result) if hook_id in with_kwargs
                       else hook(self, args, result))
                if out is not None:
                    result = out
            return result
        except Exception:
            # PyTorch still runs the always_call hooks that have not run, with the result so
            # far (None if forward failed), and silences their own errors behind this one.
            for hook_id, hook in hooks:
                if hook_id not in always or hook_id in already_called:
                    continue
                try:
                    out = (hook(self, args, kwargs, result) if hook_id in with_kwargs
                           else hook(self, args, result))
                    if out is not None:
                        result = out
                except Exception as e:
                    warnings.warn("module forward hook with ``always_call=True`` raised an "
                                  "exception that was silenced as another error was raised "
                                  f"in forward: {e}", stacklevel=2)
            raise

    def _hook_tables(self) -> dict[str, OrderedDict]:
        """This module's hook tables (created on first use for modules that predate them)."""
        state = self.__dict__
        for table in _HOOK_TABLES:
            if table not in state:
                object.__setattr__(self, table, OrderedDict())
        return {table: state[table] for table in _HOOK_TABLES}

    def register_forward_pre_hook(self, hook: Callable[..., Any], *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """Call ``hook(module, args)`` before every ``forward``; as in PyTorch.

        A non-None return replaces the positional arguments (a non-tuple is wrapped in
        one). With ``with_kwargs=True`` the hook is ``hook(module, args, kwargs)`` and
        may return a new ``(args, kwargs)`` pair. ``prepend=True`` runs it before the
        hooks already registered. Returns a handle whose ``remove()`` unregisters it.
        """
        tables = self._hook_tables()
        hooks, kw = tables["_forward_pre_hooks"], tables["_forward_pre_hooks_with_kwargs"]
        handle = RemovableHandle(hooks, kw)
        hooks[handle.id] = hook
        if with_kwargs:
            kw[handle.id] = True
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_hook(self, hook: Callable[..., Any], *, prepend: bool = False,
                              with_kwargs: bool = False, always_call: bool = False
                              ) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after every ``forward``; as in PyTorch.

        A non-None return replaces the output. With ``with_kwargs=True`` the hook is
        ``hook(module, args, kwargs, output)``. ``always_call=True`` runs it even when
        ``forward`` (or an earlier hook) raised, with ``output`` None if there is none.
        ``prepend=True`` runs it before the hooks already registered.
        """
        tables = self._hook_tables()
        hooks = tables["_forward_hooks"]
        kw, always = tables["_forward_hooks_with_kwargs"], tables["_forward_hooks_always_called"]
        handle = RemovableHandle(hooks, kw, always)
        hooks[handle.id] = hook
        if with_kwargs:
            kw[handle.id] = True
        if always_call:
            always[handle.id] = True
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    # ------------------------------------------------------------ printing
    def extra_repr(self) -> str:
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): {_add_indent(repr(m), 2)}" for name, m in
                       self._modules.items()]
        lines = extra_lines + child_lines
        text = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                text += extra_lines[0]
            else:
                text += "\n  " + "\n  ".join(lines) + "\n"
        return text + ")"

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))


def ranked(template: type, n: int, doc: str, module: str) -> type:
    """The rank-``n`` class of a ``_FooNd`` layer template: ``Foo{n}d`` with ``ndim = n``.

    One template per layer family keeps a single implementation for 1-, 2- and 3-d.
    """
    name = template.__name__.lstrip("_").replace("Nd", f"{n}d")
    return type(name, (template,), {"ndim": n, "__module__": module, "__doc__": doc})
