"""Executors: run one pure function over many partitions, here or on Dask.

An executor has one method, ``map(fn, items) -> list[Outcome]``: it calls
``fn(item)`` for every item and returns one :class:`Outcome` per item, **in
input order**.  An exception raised by one call is captured in its outcome
(type and message) instead of aborting the others, so one broken district
never loses the rest of a province.

- :class:`SerialExecutor` (the default) runs the calls one after the other in
  this process.
- :class:`ThreadExecutor` runs them on threads of this process: the
  compiled parts of a match (the auction, the flow, the grid scans) release
  the GIL, so districts overlap most of their work, with nothing pickled or
  copied and no process started.
- :class:`ProcessExecutor` runs them on worker processes of this machine
  (the standard library's process pool; no extra dependency).
- :class:`DaskExecutor` runs them on a Dask cluster: an existing
  ``distributed.Client``, a scheduler address (a real cluster), or a
  ``LocalCluster`` it starts and closes itself.  Needs the ``dask`` extra
  (``pip install 'mentor-matching[dask]'``).

``fn`` and the items must be picklable for the process and Dask executors
(module-level functions and DataFrames are).  Results do not depend on the
executor: each call is pure.

Examples
--------
>>> from matching.scale.executors import SerialExecutor
>>> out = SerialExecutor().map(lambda x: 10 // x, [5, 0, 2])
>>> [o.value for o in out]
[2, None, 5]
>>> out[1].ok, out[1].error_type
(False, 'ZeroDivisionError')
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from matching.errors import ConfigError

__all__ = [
    "DaskExecutor",
    "Executor",
    "Outcome",
    "ProcessExecutor",
    "SerialExecutor",
    "ThreadExecutor",
    "capture",
    "match_threads",
]

_DASK_EXTRA = "pip install 'mentor-matching[dask]'"


@dataclass(frozen=True)
class Outcome:
    """The outcome of one call: a value, or the error it raised.

    Attributes
    ----------
    value : object or None
        What the call returned (``None`` if it failed).
    error_type : str or None
        The exception's class name, e.g. ``"RosterError"``.
    error : str or None
        The exception's message (the library's messages carry record ids
        only, never names or addresses).
    """

    value: Any = None
    error_type: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the call returned normally."""
        return self.error_type is None


class capture:
    """Wrap ``fn`` so that it returns an :class:`Outcome` and never raises.

    A class (not a closure) so that it pickles for Dask workers.
    """

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

    def __call__(self, item: Any) -> Outcome:
        try:
            return Outcome(value=self.fn(item))
        except Exception as exc:  # captured per item on purpose
            return Outcome(error_type=type(exc).__name__, error=str(exc))


@runtime_checkable
class Executor(Protocol):
    """Anything with ``map(fn, items) -> list[Outcome]`` (input order kept)."""

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Outcome]: ...


class SerialExecutor:
    """Run every call in this process, one after the other (the default)."""

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Outcome]:
        """Call ``fn`` on each item in order; errors are captured per item."""
        call = capture(fn)
        return [call(item) for item in items]

    def __repr__(self) -> str:
        return "SerialExecutor()"


def _check_workers(owner: str, name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"The {name!r} parameter of {owner} must be an integer >= 1, got {value!r} instead."
        )


class ThreadExecutor:
    """Run the calls on threads of this process.

    Parameters
    ----------
    n_workers : int, optional
        Threads (default: the number of CPUs, ``os.cpu_count()``).

    Notes
    -----
    The matcher's compiled kernels release the GIL, so the calls overlap
    where they spend most of their time; pandas and Python code between
    them still take turns.  Each match keeps its own search threads.
    Unlike :class:`ProcessExecutor` nothing is pickled or copied, no
    process is started, and it is safe in a process that runs threads of
    its own.  The threads are started for each :meth:`map` call and joined
    before it returns.

    Examples
    --------
    >>> from matching.scale.executors import ThreadExecutor
    >>> [o.value for o in ThreadExecutor(n_workers=2).map(abs, [-1, -2, 3])]
    [1, 2, 3]
    """

    def __init__(self, n_workers: int | None = None) -> None:
        if n_workers is None:
            n_workers = os.cpu_count() or 1
        _check_workers("ThreadExecutor", "n_workers", n_workers)
        self.n_workers = n_workers

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Outcome]:
        """Call ``fn`` on each item on the threads; outcomes in input order."""
        from concurrent.futures import ThreadPoolExecutor

        items = list(items)
        if not items:
            return []
        with ThreadPoolExecutor(max_workers=min(self.n_workers, len(items))) as pool:
            return list(pool.map(capture(fn), items))

    def __repr__(self) -> str:
        return f"ThreadExecutor(n_workers={self.n_workers})"


def match_threads(executor: object) -> int | None:
    """Threads each match run by ``executor`` may use for its searches: the
    ``threads_per_worker`` of a :class:`ProcessExecutor` (its workers share
    the machine's cores); None, the match's default (the cores this process
    may run on), for any other executor.  Callers pass it as
    ``match(..., threads=...)``."""
    return executor.threads_per_worker if isinstance(executor, ProcessExecutor) else None


class ProcessExecutor:
    """Run the calls on worker processes of this machine.

    Parameters
    ----------
    n_workers : int, optional
        Worker processes (default: the number of CPUs, ``os.cpu_count()``).
    threads_per_worker : int, default 1
        Threads each match on a worker may use for its searches (a match
        alone uses every core; see :func:`match_threads`); 1 keeps the
        workers from competing for the same cores.
    start_method : {"fork", "forkserver", "spawn"}, optional
        How workers start (:mod:`multiprocessing`).  Default: ``"fork"`` on
        Linux (workers start at once with the library already loaded), else
        ``"spawn"``.  Fork copies this process: do not fork one that runs
        threads of its own (a web server, a Dask client); take
        ``"forkserver"`` there.  With ``"forkserver"`` or ``"spawn"`` each
        worker imports the main module again, so a script must call
        ``match_province`` under ``if __name__ == "__main__":``; otherwise
        the workers run the script again and die, and every call is reported
        failed in its outcome.

    Notes
    -----
    A pool is started for each :meth:`map` call and closed when it returns,
    so nothing is left running.  An error raised by a call is captured in its
    outcome; a worker that dies (e.g. killed for memory) fails the calls that
    were not finished, each with its own outcome, and the others are kept.

    Examples
    --------
    >>> from matching.scale.executors import ProcessExecutor
    >>> [o.value for o in ProcessExecutor(n_workers=2).map(abs, [-1, -2, 3])]
    [1, 2, 3]
    """

    def __init__(
        self,
        n_workers: int | None = None,
        *,
        threads_per_worker: int = 1,
        start_method: str | None = None,
    ) -> None:
        if n_workers is None:
            n_workers = os.cpu_count() or 1
        for name, value in (("n_workers", n_workers), ("threads_per_worker", threads_per_worker)):
            _check_workers("ProcessExecutor", name, value)
        methods = multiprocessing.get_all_start_methods()
        if start_method is None:
            start_method = "fork" if sys.platform.startswith("linux") else "spawn"
        if start_method not in methods:
            raise ConfigError(
                f"The 'start_method' parameter of ProcessExecutor must be one of "
                f"{sorted(methods)} on this platform ({sys.platform}), got {start_method!r} "
                f"instead."
            )
        self.n_workers = n_workers
        self.threads_per_worker = threads_per_worker
        self.start_method = start_method

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Outcome]:
        """Call ``fn`` on each item on the workers; outcomes in input order."""
        from concurrent.futures import ProcessPoolExecutor

        items = list(items)
        if not items:
            return []
        pool = ProcessPoolExecutor(
            max_workers=min(self.n_workers, len(items)),
            mp_context=multiprocessing.get_context(self.start_method),
        )
        with pool:
            futures = [pool.submit(capture(fn), item) for item in items]
            out: list[Outcome] = []
            for fut in futures:
                try:
                    out.append(fut.result())
                except Exception as exc:  # the worker died with the call
                    out.append(Outcome(error_type=type(exc).__name__, error=str(exc)))
        return out

    def __repr__(self) -> str:
        return (
            f"ProcessExecutor(n_workers={self.n_workers}, "
            f"threads_per_worker={self.threads_per_worker}, start_method={self.start_method!r})"
        )


def _peak_rss_bytes() -> int:
    """Peak resident memory of the calling process (run on each worker)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"DaskExecutor needs Dask's distributed scheduler: {_DASK_EXTRA}"
        ) from exc
    return distributed


class DaskExecutor:
    """Run the calls on a Dask cluster (``pip install 'mentor-matching[dask]'``).

    Parameters
    ----------
    client : distributed.Client, optional
        An existing client; it is used as is and never closed here.
    scheduler_address : str, optional
        Address of a running scheduler (e.g. ``"tcp://10.0.0.5:8786"``); a
        client is opened on first use and closed by :meth:`close`.
    n_workers : int, default 2
        With neither ``client`` nor ``scheduler_address``: the workers of the
        ``LocalCluster`` started on first use (and closed by :meth:`close`).
    threads_per_worker : int, default 1
        Threads per local worker (the solver is single-threaded).
    processes : bool, default True
        Local workers as processes (real parallelism) or threads in this
        process (cheap to start; for tests).
    memory_limit : str or int, default "auto"
        Memory limit per local worker, as Dask takes it.

    Use as a context manager, or call :meth:`close`, to stop what it started.

    Examples
    --------
    >>> from matching.scale.executors import DaskExecutor
    >>> with DaskExecutor(n_workers=1, processes=False) as ex:  # doctest: +SKIP
    ...     [o.value for o in ex.map(abs, [-1, -2])]
    [1, 2]
    """

    def __init__(
        self,
        client: Any = None,
        *,
        scheduler_address: str | None = None,
        n_workers: int = 2,
        threads_per_worker: int = 1,
        processes: bool = True,
        memory_limit: str | int = "auto",
    ) -> None:
        if client is not None and scheduler_address is not None:
            raise ConfigError("DaskExecutor takes a client or a scheduler_address, not both")
        for name, value in (("n_workers", n_workers), ("threads_per_worker", threads_per_worker)):
            _check_workers("DaskExecutor", name, value)
        _import_distributed()
        self._client = client
        self._owns_client = client is None
        self._cluster: Any = None
        self.scheduler_address = scheduler_address
        self.n_workers = n_workers
        self.threads_per_worker = threads_per_worker
        self.processes = processes
        self.memory_limit = memory_limit

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` (started on first use)."""
        if self._client is None:
            distributed = _import_distributed()
            if self.scheduler_address is not None:
                self._client = distributed.Client(self.scheduler_address)
            else:
                self._cluster = distributed.LocalCluster(
                    n_workers=self.n_workers,
                    threads_per_worker=self.threads_per_worker,
                    processes=self.processes,
                    memory_limit=self.memory_limit,
                    # a free port: a fixed one (8787) warns when another cluster holds it
                    dashboard_address=":0",
                )
                self._client = distributed.Client(self._cluster)
        return self._client

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Outcome]:
        """Submit one task per item; gather the outcomes in input order.

        An error raised by ``fn`` is captured on the worker; a task lost with
        its worker (e.g. killed for memory) is reported in its outcome too.
        """
        items = list(items)
        if not items:
            return []
        # the items (rosters) go to the workers as data, not inside the task
        # graph, which Dask warns about (and would ship through the scheduler)
        data = self.client.scatter(items, hash=False)
        futures = self.client.map(capture(fn), data, pure=False)
        out: list[Outcome] = []
        for fut in futures:
            try:
                out.append(fut.result())
            except Exception as exc:  # the task itself was lost
                out.append(Outcome(error_type=type(exc).__name__, error=str(exc)))
        return out

    def worker_peak_memory(self) -> dict[str, int]:
        """Peak resident memory (bytes) of each worker process, by worker address.

        With ``processes=False`` every worker reports this process.
        """
        return {str(k): int(v) for k, v in self.client.run(_peak_rss_bytes).items()}

    def close(self) -> None:
        """Close the client and the local cluster if this executor started them."""
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = (
            "client"
            if not self._owns_client
            else self.scheduler_address or f"LocalCluster(n_workers={self.n_workers})"
        )
        return f"DaskExecutor({where})"
