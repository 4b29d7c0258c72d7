"""The ``Tensor``: an ndarray with PyTorch's view, stride and autograd semantics.

Memory model. A tensor is a window ``(shape, strides, storage_offset)`` onto a 1-d storage
buffer shared by all its views, exactly as in PyTorch. ``_data`` is that window as a NumPy
array (built with ``as_strided``), so NumPy does the arithmetic while strides stay what
PyTorch reports (strides of size-1 dims included). Strides are never negative.

The math methods (``add``, ``view``, ``sum`` ...) are installed by ``convkit.ops``, the
layer above; this module holds only what autograd itself needs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from convkit import _dtypes
from convkit._dtypes import dtype as DType
from convkit.autograd.function import AccumulateGrad, Node
from convkit.autograd.grad_mode import is_grad_enabled

if TYPE_CHECKING:
    from convkit.autograd.function import BackwardNode

__all__ = ["Tensor", "Size", "contiguous_strides", "device"]

# Installed by the ops layer (convkit.ops.inplace): rebuilds a stale view's history as an
# as_strided view of its base. Autograd cannot import ops (imports point downward).
_regenerate_view_history: Callable[[Tensor], None] | None = None


class Size(tuple):
    """A tensor's shape: a tuple of ints that prints as ``convkit.Size([1, 1, 8, 8])``."""

    def __repr__(self) -> str:
        return f"convkit.Size({list(self)})"

    __str__ = __repr__

    def numel(self) -> int:
        return int(np.prod(self, dtype=np.int64))

    # Slices and concatenations of a shape are shapes again, as with torch.Size.
    def __getitem__(self, index: Any) -> Any:
        item = super().__getitem__(index)
        return Size(item) if isinstance(index, slice) else item

    def __add__(self, other: Any) -> Size:
        return Size(tuple(self) + tuple(other))

    def __radd__(self, other: Any) -> Size:
        return Size(tuple(other) + tuple(self))

    def __mul__(self, n: Any) -> Size:
        return Size(tuple(self) * n)

    __rmul__ = __mul__


class device:  # noqa: N801 - PyTorch's name
    """The only device convkit has: the CPU."""

    def __init__(self, spec: str | device = "cpu") -> None:
        name = spec.type if isinstance(spec, device) else str(spec)
        if name.split(":")[0] != "cpu":
            raise RuntimeError(f"convkit runs on the CPU only; got device '{name}'")
        self.type = "cpu"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, device | str) and str(other).split(":")[0] == "cpu"

    def __hash__(self) -> int:
        return hash("cpu")

    def __repr__(self) -> str:
        return "device(type='cpu')"

    def __str__(self) -> str:
        return "cpu"


def contiguous_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Row-major element strides as PyTorch computes them (a size-0 dim counts as 1)."""
    strides = [1] * len(shape)
    for i in range(len(shape) - 2, -1, -1):
        strides[i] = strides[i + 1] * max(shape[i + 1], 1)
    return tuple(strides)


def _storage_of(arr: np.ndarray, keep_strides: bool = False
                ) -> tuple[np.ndarray, tuple[int, ...]]:
    """A 1-d buffer spanning ``arr``'s memory, and arr's element strides within it.

    A contiguous array gets PyTorch's canonical strides, unless ``keep_strides`` (memory
    imported from elsewhere keeps the strides of its size-1 dims, as ``torch.from_numpy``
    and ``torch.from_dlpack`` keep them).
    """
    item = arr.itemsize
    if arr.size == 0 or arr.flags.c_contiguous:
        buf = arr.reshape(-1) if arr.size else np.empty(0, arr.dtype)
        if keep_strides and arr.size:
            return buf, tuple(s // item for s in arr.strides)
        return buf, contiguous_strides(arr.shape)
    strides = tuple(s // item for s in arr.strides)
    span = 1 + sum((n - 1) * s for n, s in zip(arr.shape, strides, strict=True))
    return as_strided(arr, (span,), (item,)), strides


class Tensor:
    """A multi-dimensional array of one dtype, with PyTorch's semantics.

    ``Tensor(data)`` builds a tensor of the default float dtype from nested lists or an
    array, like ``torch.Tensor``; prefer :func:`convkit.tensor`.
    """

    __slots__ = ("_data", "_storage", "_offset", "_dtype", "_version_box", "_requires_grad",
                 "_grad", "_grad_fn", "_grad_fn_version", "_output_nr", "_accumulator", "_base",
                 "_retains_grad", "__weakref__", "__dict__")
    __array_priority__ = 1000  # NumPy defers to Tensor's reflected operators

    def __init__(self, *args: Any) -> None:
        if len(args) == 1 and not isinstance(args[0], int):
            arr = np.array(args[0], dtype=_dtypes.get_default_dtype().np)
        else:
            arr = np.empty(tuple(args), dtype=_dtypes.get_default_dtype().np)
        self._init_from_array(arr)

    # ------------------------------------------------------------------ construction
    def _init_from_array(self, arr: np.ndarray, version_box: list[int] | None = None,
                         keep_strides: bool = False) -> None:
        dtype = _dtypes._BY_NUMPY.get(arr.dtype)
        if dtype is None:
            raise TypeError(f"convkit has no dtype for NumPy's {arr.dtype}")
        if arr.size and arr.flags.c_contiguous and not keep_strides:
            # The common case (every op's fresh result): reshaping the flat buffer gives
            # PyTorch's canonical strides at a fraction of as_strided's cost.
            buf = arr.reshape(-1)
            self._data = buf.reshape(arr.shape)
        else:
            if any(s < 0 or s % arr.itemsize for s in arr.strides):
                arr = np.ascontiguousarray(arr)
            buf, strides = _storage_of(arr, keep_strides)
            self._data = as_strided(buf, arr.shape, tuple(s * arr.itemsize for s in strides))
        self._storage = buf
        self._offset = 0
        self._dtype = dtype
        self._version_box = version_box if version_box is not None else [0]
        self._requires_grad = False
        self._grad: Tensor | None = None
        self._grad_fn: BackwardNode | None = None
        self._grad_fn_version = self._version_box[0]
        self._output_nr = 0
        self._accumulator: AccumulateGrad | None = None
        self._base: Tensor | None = None
        self._retains_grad = False

    @classmethod
    def _from_array(cls, arr: np.ndarray, keep_strides: bool = False) -> Tensor:
        """Wrap an ndarray without copying it (a copy is made only for negative strides).

        ``keep_strides=True`` is for imported memory (from_numpy, from_dlpack): see
        :func:`_storage_of`.
        """
        t = cls.__new__(cls)
        t._init_from_array(arr, keep_strides=keep_strides)
        return t

    def _make_view(self, shape: tuple[int, ...], strides: tuple[int, ...], offset: int,
                   data: np.ndarray | None = None) -> Tensor:
        """A tensor on this tensor's storage with the given element geometry (``data``: an
        ndarray that already has it, shared instead of built again)."""
        t = Tensor.__new__(Tensor)
        t._storage = self._storage
        t._offset = offset
        if data is None:
            item = self._storage.itemsize
            buf = self._storage[offset:] if offset < self._storage.size else self._storage[:0]
            data = as_strided(buf, shape, tuple(s * item for s in strides))
        t._data = data
        t._dtype = self._dtype
        t._version_box = self._version_box
        t._requires_grad = False
        t._grad = None
        t._grad_fn = None
        t._grad_fn_version = t._version_box[0]
        t._output_nr = 0
        t._accumulator = None
        t._base = None
        t._retains_grad = False
        return t

    def _set_view_of(self, base: Tensor) -> None:
        self._base = base._base if base._base is not None else base

    def _attach(self, node: BackwardNode, output_nr: int) -> None:
        self._output_nr = output_nr
        self.grad_fn = node
        self._requires_grad = True

    # ------------------------------------------------------------------ metadata
    @property
    def dtype(self) -> DType:
        return self._dtype

    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim: int | None = None) -> Size | int:
        """The shape, or the length of dimension ``dim``."""
        if dim is None:
            return self.shape
        return self._data.shape[self._wrap_shape_dim(dim)]

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    def element_size(self) -> int:
        return self._dtype.itemsize

    @property
    def itemsize(self) -> int:
        return self._dtype.itemsize

    @property
    def nbytes(self) -> int:
        return self.numel() * self._dtype.itemsize

    @property
    def device(self) -> device:
        return device("cpu")

    @property
    def is_cuda(self) -> bool:
        return False

    @property
    def is_floating_point_(self) -> bool:  # pragma: no cover - alias kept private
        return self._dtype.is_floating_point

    def is_floating_point(self) -> bool:
        return self._dtype.is_floating_point

    def is_complex(self) -> bool:
        return self._dtype.is_complex

    def stride(self, dim: int | None = None) -> tuple[int, ...] | int:
        """Element strides: how many elements to step to move one index along each dim."""
        item = self._dtype.itemsize
        strides = tuple(s // item for s in self._data.strides)
        if dim is None:
            return tuple(strides)
        return strides[self._wrap_shape_dim(dim)]

    def storage_offset(self) -> int:
        return self._offset

    def data_ptr(self) -> int:
        """Address of the first element (the storage's address plus the offset)."""
        return int(self._storage.__array_interface__["data"][0]) + self._offset * self.itemsize

    def is_contiguous(self, memory_format: object = None) -> bool:
        """True when the elements are laid out row-major with no gaps (size-1 dims ignored)."""
        if self.numel() == 0:
            return True
        expected = 1
        for n, s in zip(reversed(self.shape), reversed(self.stride()), strict=True):
            if n != 1:
                if s != expected:
                    return False
                expected *= n
        return True

    def _wrap_shape_dim(self, dim: int) -> int:
        # Ops treat a 0-d tensor as having one dim (sum(dim=0) works), size/stride do not.
        if self.ndim == 0:
            raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
        return self._wrap_dim(dim)

    def _wrap_dim(self, dim: int, ndim: int | None = None) -> int:
        n = self.ndim if ndim is None else ndim
        return wrap_dim(dim, n)

    def type(self, dtype: Any = None, non_blocking: bool = False, **_: Any) -> Any:
        """The type string (``'convkit.FloatTensor'``), or a copy converted to ``dtype``."""
        if dtype is None:
            return f"convkit.{self._dtype._tensor_type}"
        if isinstance(dtype, str):
            dtype = _dtypes.from_tensor_type(dtype)
        return self.to(dtype)

    # ------------------------------------------------------------------ autograd
    @property
    def _version(self) -> int:
        return self._version_box[0]

    def _bump_version(self) -> None:
        self._version_box[0] += 1

    @property
    def grad_fn(self) -> BackwardNode | None:
        """The node that produced this tensor (None for leaves and untracked tensors).

        A view's history goes stale when its memory is written through another view of the
        same base (or the base itself): that write bumps the shared version counter and
        rebases the base (CopySlices). Like PyTorch, the view then re-derives its history
        from the base's, as an ``AsStridedBackward0`` node, the next time it is asked.
        """
        if self._base is not None and self._grad_fn_version != self._version_box[0]:
            self._grad_fn_version = self._version_box[0]
            if self._base._requires_grad and _regenerate_view_history is not None:
                _regenerate_view_history(self)
        return self._grad_fn

    @grad_fn.setter
    def grad_fn(self, node: BackwardNode | None) -> None:
        old = self._grad_fn
        self._grad_fn = node
        self._grad_fn_version = self._version_box[0]
        if self._retains_grad:
            # retain_grad follows the tensor, not the node: after an in-place op PyTorch
            # retains the gradient of the new value.
            if old is not None:
                old.__dict__.get("_retained", {}).pop(self._output_nr, None)
            if node is not None:
                node.__dict__.setdefault("_retained", {})[self._output_nr] = self

    @property
    def requires_grad(self) -> bool:
        if self._base is not None:
            self.grad_fn  # noqa: B018 - a stale view may have come to require grad
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if self.grad_fn is not None:
            if value:
                return
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a "
                "computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach().")
        if value and not (self._dtype.is_floating_point or self._dtype.is_complex):
            raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                               f"gradients (this tensor is {self._dtype})")
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def grad(self) -> Tensor | None:
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got "
                                f"{type(value).__name__}")
            if tuple(value.shape) != tuple(self.shape):
                raise RuntimeError(f"attempting to assign a gradient of size "
                                   f"'{list(value.shape)}' to a tensor of size "
                                   f"'{list(self.shape)}'. Please ensure that the gradient and "
                                   "the tensor are the same size")
            if value.dtype is not self.dtype:
                raise RuntimeError(f"attempting to assign a gradient with dtype "
                                   f"'{value.dtype}' to a tensor with dtype '{self.dtype}'. "
                                   "The gradient must match the tensor's dtype")
        self._grad = value

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        node = self.grad_fn
        if node is not None:
            self._retains_grad = True
            node.__dict__.setdefault("_retained", {})[self._output_nr] = self

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def _grad_node(self) -> Node:
        if self.grad_fn is not None:
            return self.grad_fn
        if self._accumulator is None:
            self._accumulator = AccumulateGrad(self)
        return self._accumulator

    def backward(self, gradient: Tensor | None = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs: Any = None) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad."""
        from convkit.autograd.graph import backward

        backward([self], [gradient] if gradient is not None else None, retain_graph,
                 create_graph, inputs=inputs)

    def detach(self) -> Tensor:
        """A tensor on the same memory (and version counter) that records no graph."""
        return self._make_view(self._data.shape, self.stride(), self._offset, self._data)

    def detach_(self) -> Tensor:
        if self._base is not None:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self.grad_fn = None
        self._requires_grad = False
        return self

    @property
    def data(self) -> Tensor:
        """The same memory as a tensor autograd does not track (its own version counter)."""
        t = self.detach()
        t._version_box = [0]
        return t

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, got {type(value).__name__}")
        self._data, self._storage, self._offset = value._data, value._storage, value._offset
        self._dtype = value._dtype

    def _check_inplace(self) -> None:
        """PyTorch's refusals of in-place writes that would corrupt the graph."""
        if not is_grad_enabled():
            return
        if self._requires_grad and self.grad_fn is None:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                               "operation.")
        base = self._base
        if base is not None and base._requires_grad and base.grad_fn is None:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                               "in-place operation.")

    # ------------------------------------------------------------------ conversion
    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The ndarray sharing this tensor's memory (refused while it requires grad)."""
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        return self._data

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        arr = self.numpy()
        if dtype is not None and np.dtype(dtype) != arr.dtype:
            return arr.astype(dtype)
        return arr.copy() if copy else arr

    def item(self) -> Any:
        """The single value as a Python number."""
        if self.numel() != 1:
            raise RuntimeError(f"a Tensor with {self.numel()} elements cannot be converted to "
                               "Scalar")
        return self._data.reshape(-1)[0].item()

    def tolist(self) -> Any:
        return self._data.tolist()

    def __dlpack__(self, *args: Any, **kwargs: Any) -> Any:
        if self.requires_grad:
            # BufferError is the DLPack protocol's "cannot export" (PyTorch raises it too).
            raise BufferError("Can't export tensors that require gradient, use "
                              "tensor.detach()")
        return self._data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self) -> tuple[int, int]:
        return (1, 0)  # kDLCPU, device 0

    # ------------------------------------------------------------------ python protocol
    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self) -> Any:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))  # as PyTorch does: one graph node for all the rows

    def __bool__(self) -> bool:
        if self.numel() != 1:
            amount = "no values" if self.numel() == 0 else "more than one value"
            raise RuntimeError(f"Boolean value of Tensor with {amount} is ambiguous")
        return bool(self._data.reshape(-1)[0])

    def __float__(self) -> float:
        return float(self._scalar("float"))

    def __int__(self) -> int:
        return int(self._scalar("int"))

    def __complex__(self) -> complex:
        return complex(self._scalar("complex"))

    def __index__(self) -> int:
        if self._dtype.is_floating_point or self._dtype.is_complex or self.numel() != 1:
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        return int(self._data.reshape(-1)[0])

    def _scalar(self, kind: str) -> Any:
        if self.numel() != 1:
            raise ValueError(f"only one element tensors can be converted to Python scalars "
                             f"(this one has {self.numel()} elements, so {kind}() is ambiguous)")
        return self._data.reshape(-1)[0]

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return self._repr()

    def _repr(self, prefix: str = "tensor(") -> str:
        from convkit._tensor_str import format_tensor

        d = self._dtype
        if self.numel() == 0:  # PyTorch names every non-default dtype of an empty tensor
            shown = d is not _dtypes.get_default_dtype()
        else:
            shown = d not in (_dtypes.get_default_dtype(), _dtypes.default_complex(),
                              _dtypes.int64, _dtypes.bool)
        suffixes = []
        if self.grad_fn is not None:
            suffixes.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self._requires_grad:
            suffixes.append("requires_grad=True")
        return format_tensor(self._data, dtype_name=repr(d), show_dtype=shown,
                             suffixes=suffixes, prefix=prefix)

    def __format__(self, spec: str) -> str:
        if self.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)  # TypeError for a non-empty spec, like PyTorch

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (_rebuild, (self._data.copy(), self._requires_grad))


def _rebuild(arr: np.ndarray, requires_grad: bool) -> Tensor:
    t = Tensor._from_array(arr)
    t._requires_grad = requires_grad
    return t


def wrap_dim(dim: int, ndim: int) -> int:
    """PyTorch's dimension wrapping, with its IndexError for dims out of range."""
    if not isinstance(dim, int | np.integer) or isinstance(dim, bool):
        raise TypeError(f"dim must be an int, got {type(dim).__name__}")
    n = max(ndim, 1)
    if dim < -n or dim >= n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return int(dim) % n
