"""The Dask set-up natwin's parallel work shares (sweeps, parallel ingests of measured data).

A local cluster of worker processes with one thread each (the work is CPU-bound numpy and
solver code that holds the GIL), or the cluster of an existing scheduler; Dask is imported
only when a parallel run starts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any


@contextmanager
def dask_client(workers: int, scheduler: str | None = None) -> Iterator[Any]:
    """A ``dask.distributed.Client``: of ``scheduler`` when given, else of a local cluster of
    ``workers`` processes (one thread each, no dashboard); closed with its cluster on exit."""
    from dask.distributed import Client, LocalCluster  # heavy: only when a parallel run starts

    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=max(workers, 1), threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def as_completed_results(
    calls: Sequence[tuple[Callable[..., Any], tuple[Any, ...]]], *, workers: int, scheduler: str | None = None
) -> Iterator[tuple[int, Any]]:
    """(index, result) of each call ``f(*args)`` as it completes: on :func:`dask_client` when
    ``workers`` > 0 or a ``scheduler`` is given, else one after the other in this process."""
    if workers == 0 and scheduler is None:
        for index, (func, args) in enumerate(calls):
            yield index, func(*args)
        return
    from dask.distributed import as_completed  # heavy: only when a parallel run starts

    with dask_client(workers, scheduler) as client:
        futures = {client.submit(func, *args, pure=False): index for index, (func, args) in enumerate(calls)}
        for future in as_completed(futures):
            yield futures[future], future.result()
