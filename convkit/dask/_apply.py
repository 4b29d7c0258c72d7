"""Inference of a convkit Module over a dask array of images."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from convkit.dask._core import as_dask, da, shared

__all__ = ["apply"]


def _infer(block: np.ndarray, model: Any) -> np.ndarray:
    """The model on one batch block, in memory and without autograd."""
    import convkit

    with convkit.no_grad():
        return model(convkit.from_numpy(np.ascontiguousarray(block))).numpy()


def _default_client() -> Any:
    try:
        from distributed import default_client
        return default_client()
    except (ImportError, ValueError):  # no distributed, or no client running
        return None


def apply(model: Any, images: da.Array, batch_size: int | None = None, *,
          client: Any = None) -> da.Array:
    """Run ``model`` (any convkit Module) over a dask array of images, batch block by block.

    Shape:
        images ``(N, *image)``, e.g. ``(N, C, H, W)``; output ``(N, *model_output)``, chunked
        like the batch blocks (the other axes whole). The model is called on a single zero
        image first, to learn the output shape and dtype (and to raise its errors early).

    Parameters
    ----------
    model : convkit.nn.Module
        Called as it is (set ``model.eval()`` first for inference, as in PyTorch).
    images : dask array
    batch_size : int, optional
        Images per task (the batch axis is rechunked to it); default: the input's batch
        chunks.
    client : distributed.Client or False, optional
        Where the model is broadcast to every worker once (``scatter(broadcast=True)``);
        default: the current default client if there is one. With ``False`` (or no client
        running) the model is one key of the graph, which every task refers to and each
        worker fetches once (never a copy per task).

    Returns
    -------
    dask array
        Lazy; ``.compute()`` (or ``client.compute``) runs it.
    """
    import convkit

    x = as_dask(images, "apply")
    if x.ndim < 2:
        raise ValueError(f"apply: images must have a batch axis and image axes, got shape "
                         f"{x.shape}")
    chunks: dict[int, Any] = {a: -1 for a in range(1, x.ndim)}
    if batch_size is not None:
        try:
            size = operator.index(batch_size)
        except TypeError:
            raise TypeError(f"apply: batch_size must be an int, got {batch_size!r}") from None
        if size < 1:
            raise ValueError(f"apply: batch_size must be positive, got {size}")
        chunks[0] = size
    x = x.rechunk(chunks)
    with convkit.no_grad():
        probe = model(convkit.from_numpy(np.zeros((1, *x.shape[1:]), dtype=x.dtype)))
    sample = probe.numpy()
    if client is None:
        client = _default_client()
    shipped = client.scatter(model, broadcast=True) if client else shared(model)
    out_chunks = (x.chunks[0],) + tuple((s,) for s in sample.shape[1:])
    # each block's image axes (whole) are replaced by the model's output axes (whole)
    return da.map_blocks(_infer, x, shipped, chunks=out_chunks, dtype=sample.dtype,
                         drop_axis=list(range(1, x.ndim)),
                         new_axis=list(range(1, sample.ndim)),
                         meta=np.empty((0,) * sample.ndim, dtype=sample.dtype))
