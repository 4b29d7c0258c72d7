"""Connecting to a Dask scheduler, or starting a local cluster sized to the machine."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["client", "local_cluster_size"]


def local_cluster_size() -> dict[str, Any]:
    """``LocalCluster`` arguments for this machine: one single-threaded worker process per
    usable core (convolution holds the GIL in NumPy glue, so processes beat threads), and the
    machine's memory split evenly between them."""
    import psutil

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    memory = psutil.virtual_memory().total
    return {"n_workers": cores, "threads_per_worker": 1, "memory_limit": memory // cores}


def client(address: str | None = None, *, timeout: float = 10.0, **kwargs: Any) -> Any:
    """A ``distributed.Client``: connected to ``address``, or to a new local cluster.

    Parameters
    ----------
    address : str, optional
        A scheduler address such as ``'tcp://10.0.0.5:8786'``. Without it a ``LocalCluster``
        of worker processes is started (:func:`local_cluster_size`); closing the client
        closes that cluster.
    timeout : float
        Seconds to wait for the scheduler (default 10).
    **kwargs
        Passed to ``distributed.Client`` (and from there to ``LocalCluster``, e.g.
        ``n_workers=2``, which override the machine-sized defaults).

    Raises
    ------
    ConnectionError
        No scheduler answered at ``address`` within ``timeout`` seconds.
    """
    from distributed import Client

    if address is not None:
        try:
            return Client(address, timeout=timeout, **kwargs)
        except (OSError, TimeoutError) as error:
            raise ConnectionError(f"convkit.dask.client: no Dask scheduler answered at "
                                  f"{address!r} within {timeout:g} s ({error})") from error
    options = {**local_cluster_size(), "processes": True, **kwargs}
    return Client(timeout=timeout, **options)
