"""Save and load tensors and nested containers of tensors without pickle."""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from convkit.autograd.tensor import Tensor
from convkit.ops.creation import from_numpy

__all__ = ["save", "load"]

_STRUCTURE_KEY = "convkit.structure"  # safetensors metadata key / npz entry holding the JSON
_NPZ_STRUCTURE = "__convkit_structure__"


def _safetensors_numpy() -> Any:
    try:
        import safetensors.numpy as st_numpy
    except ImportError:
        raise ImportError("reading and writing .safetensors files needs the 'safetensors' "
                          "package: pip install convkit[io]") from None
    return st_numpy


def _kind(path: str | os.PathLike[str], action: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in (".safetensors", ".npz"):
        raise ValueError(f"convkit.{action}: unsupported file suffix {suffix!r} in '{path}'; "
                         "use .safetensors or .npz")
    return suffix


def _flatten(obj: Any, prefix: str, arrays: dict[str, np.ndarray]) -> Any:
    """Replace every tensor in ``obj`` by a reference to ``arrays[dotted path]``; return the
    JSON-able skeleton."""
    if isinstance(obj, Tensor):
        key = prefix or "tensor"
        if key in arrays:
            raise ValueError(f"convkit.save: two tensors map to the key {key!r}")
        if obj.is_complex():
            raise TypeError(f"convkit.save: complex tensors cannot be stored ({key})")
        arr = obj.detach().numpy()
        # (np.ascontiguousarray would turn a 0-d array into a 1-d one)
        arrays[key] = arr if arr.flags.c_contiguous else arr.copy(order="C")
        return {"__tensor__": key}
    if isinstance(obj, np.ndarray):
        return _flatten(from_numpy(obj), prefix, arrays)
    join = (lambda k: f"{prefix}.{k}") if prefix else str
    if isinstance(obj, Mapping):
        items = [[_key(k), _flatten(v, join(k), arrays)] for k, v in obj.items()]
        return {"__dict__": items}
    if isinstance(obj, tuple):
        return {"__tuple__": [_flatten(v, join(i), arrays) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_flatten(v, join(i), arrays) for i, v in enumerate(obj)]
    if isinstance(obj, bool | int | float | str) or obj is None:
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"convkit.save: cannot store an object of type {type(obj).__name__} "
                    f"(at {prefix or 'the top level'}); only tensors, numbers, strings, None "
                    "and dicts/lists/tuples of them")


def _key(k: Any) -> Any:
    if isinstance(k, bool) or not isinstance(k, int | str):
        raise TypeError(f"convkit.save: dict keys must be str or int, got {type(k).__name__}")
    return k


def _rebuild(node: Any, arrays: Mapping[str, np.ndarray], path: str) -> Any:
    if isinstance(node, dict):
        if "__tensor__" in node:
            key = node["__tensor__"]
            if key not in arrays:
                raise RuntimeError(f"convkit.load: '{path}' is corrupted: tensor {key!r} is "
                                   "listed in its structure but missing from the file")
            return _tensor(arrays[key])
        if "__tuple__" in node:
            return tuple(_rebuild(v, arrays, path) for v in node["__tuple__"])
        if "__dict__" in node:
            return {k: _rebuild(v, arrays, path) for k, v in node["__dict__"]}
        raise RuntimeError(f"convkit.load: '{path}' has an unreadable structure entry")
    if isinstance(node, list):
        return [_rebuild(v, arrays, path) for v in node]
    return node


def _tensor(arr: np.ndarray) -> Tensor:
    # A private, writable copy: safetensors hands out read-only views of its buffer.
    return from_numpy(np.array(arr, copy=True))


def _is_flat_state(obj: Any) -> bool:
    return (isinstance(obj, Mapping) and len(obj) > 0
            and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items()))


def save(obj: Any, f: str | os.PathLike[str]) -> None:
    """Write ``obj`` (a tensor, a state dict, or nested dicts/lists of tensors and numbers)
    to ``f``; the format follows the suffix: ``.safetensors`` or ``.npz``."""
    kind = _kind(f, "save")
    arrays: dict[str, np.ndarray] = {}
    skeleton = _flatten(obj, "", arrays)
    structure = json.dumps(skeleton)
    if kind == ".safetensors":
        st = _safetensors_numpy()
        # A flat state dict keeps its order in the structure; PyTorch ignores the metadata.
        st.save_file(arrays, os.fspath(f), metadata={_STRUCTURE_KEY: structure,
                                                     "format": "pt"})
    else:
        if _NPZ_STRUCTURE in arrays:
            raise ValueError(f"convkit.save: the key {_NPZ_STRUCTURE!r} is reserved")
        with open(f, "wb") as fh:
            np.savez(fh, **arrays, **{_NPZ_STRUCTURE: np.array(structure)})


def load(f: str | os.PathLike[str], map_location: Any = None, weights_only: bool = True
         ) -> Any:
    """Read what :func:`save` wrote (or a plain safetensors/npz file of arrays, e.g. from
    ``safetensors.torch.save_file``: it loads as an ordered ``{name: tensor}`` dict).

    The whole file is read and checked before anything is returned; a truncated or corrupted
    file raises ``RuntimeError`` naming it.
    """
    kind = _kind(f, "load")
    path = os.fspath(f)
    if not os.path.exists(path):
        raise FileNotFoundError(f"convkit.load: no such file: '{path}'")
    structure: str | None
    try:
        if kind == ".safetensors":
            _safetensors_numpy()
            from safetensors import safe_open

            with safe_open(path, framework="np") as handle:
                metadata = handle.metadata() or {}
                arrays = {k: handle.get_tensor(k) for k in handle.keys()}
            structure = metadata.get(_STRUCTURE_KEY)
        else:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
            raw = arrays.pop(_NPZ_STRUCTURE, None)
            structure = None if raw is None else str(raw)
        skeleton = json.loads(structure) if structure is not None else None
    except ImportError:
        raise
    except Exception as exc:  # safetensors, zipfile, zlib and json each raise their own
        raise RuntimeError(f"convkit.load: cannot read '{path}': the file is truncated or not "
                           f"a valid {kind} file ({type(exc).__name__}: {exc})") from exc
    if skeleton is None:
        return OrderedDict((k, _tensor(v)) for k, v in arrays.items())
    result = _rebuild(skeleton, arrays, path)
    if isinstance(result, dict) and _is_flat_state(result):
        return OrderedDict(result)
    return result
