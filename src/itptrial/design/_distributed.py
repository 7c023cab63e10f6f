"""Running many independent tasks on Dask (dask.distributed), or in this process.

A task's result depends only on its arguments (trial k always takes stream k of the
seed), so the results, gathered in task order, are the same whatever the number of
workers, and the same as in this process.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from distributed import Client

T = TypeVar("T")


def machine_workers() -> int:
    """Worker processes of the default LocalCluster: one per CPU this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None) -> Iterator[Client]:
    """A client of the cluster at ``scheduler`` (``tcp://HOST:PORT``: an existing one,
    started with ``dask scheduler`` and ``dask worker``), or of a LocalCluster of
    ``workers`` single-threaded processes (default: one per CPU), closed on exit.

    Each local worker runs the compiled simulator on one thread (``NUMBA_NUM_THREADS=1``):
    the processes, not threads within them, share the CPUs.
    """
    from distributed import Client, LocalCluster

    if scheduler is not None:
        client = Client(scheduler, timeout="10s")
        try:
            _check_versions(client)
            yield client
        finally:
            client.close()
        return
    try:
        cluster = LocalCluster(
            n_workers=workers or machine_workers(),
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # a free port: never clash with a running cluster
            silence_logs=logging.CRITICAL,  # task errors reach the client as exceptions
            env={"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
        )
    except BaseException:
        _silence_dask()
        raise
    try:
        with Client(cluster) as client:
            yield client
    except BaseException:
        _silence_dask()
        raise
    finally:
        cluster.close()


def _itptrial_version() -> str:
    from itptrial import __version__

    return __version__


def _check_versions(client: Client) -> None:
    """Every worker of an existing cluster runs this itptrial (another version could
    simulate other trials from the same seed): ValueError naming the odd ones."""
    here = _itptrial_version()
    theirs = client.run(_itptrial_version)
    odd = {worker: version for worker, version in theirs.items() if version != here}
    if odd:
        shown = ", ".join(f"{worker} has {version}" for worker, version in sorted(odd.items()))
        raise ValueError(f"workers must run itptrial {here}: {shown}")


def _silence_dask() -> None:
    """Interrupted, or failed, with workers running: their closing connections are
    logged as errors with tracebacks, while the command has already said what happened."""
    for name in ["distributed", *logging.root.manager.loggerDict]:
        if name.startswith("distributed"):
            logging.getLogger(name).setLevel(logging.CRITICAL + 1)


def run_tasks(
    function: Callable[..., T],
    shared: Sequence[Any],
    tasks: Sequence[Any],
    client: Client | None = None,
    done: Callable[[int], None] | None = None,
    check: Callable[[], None] | None = None,
) -> list[T]:
    """``[function(*shared, task) for task in tasks]``, in task order.

    With a ``client``, the tasks run on its cluster (``shared`` sent once to every
    worker); ``done(k)`` is called as task k finishes, in any order, and ``check()``
    between completions (it may raise, e.g. KeyboardInterrupt: the remaining tasks are
    cancelled). Without one, they run here, one after the other.
    """
    if client is None:
        results = []
        for k, task in enumerate(tasks):
            if check is not None:
                check()
            results.append(function(*shared, task))
            if done is not None:
                done(k)
        return results
    return _run_on_cluster(function, shared, tasks, client, done, check)


def _run_on_cluster(
    function: Callable[..., T],
    shared: Sequence[Any],
    tasks: Sequence[Any],
    client: Client,
    done: Callable[[int], None] | None,
    check: Callable[[], None] | None,
) -> list[T]:
    from distributed import as_completed

    scattered = [client.scatter(value, broadcast=True, hash=False) for value in shared]
    futures = [client.submit(function, *scattered, task, pure=False) for task in tasks]
    index = {future.key: k for k, future in enumerate(futures)}
    results: dict[int, T] = {}
    try:
        for future in as_completed(futures):
            k = index[future.key]
            results[k] = future.result()
            if done is not None:
                done(k)
            if check is not None:
                check()
    finally:
        unfinished = [f for f in futures if not f.done()]
        if unfinished:
            client.cancel(unfinished)
    return [results[k] for k in range(len(tasks))]
