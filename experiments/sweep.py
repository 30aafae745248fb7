"""The sweep runner: every (point, seed) pair, on local processes or a Dask cluster, resumable.

Each finished run is written at once to its own JSON file in `run_dir` (written to a temporary
name, then renamed: a file is either whole or absent). A rerun reads the files already there,
skips those runs and runs only the rest, so an interrupted sweep loses nothing. Records are
returned in task order (points, then seeds), never in completion order, so the result does
not depend on the number of workers or on where a sweep was interrupted.

Common random numbers: seed k is the same model seed at every point, and the model draws a
fixed number of random numbers a day, so treatments differ only by their parameters.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import re
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from crypto401k.experiments.extras import require
from crypto401k.experiments.run import FILE_MODE, json_default
from crypto401k.experiments.spec import Point
from crypto401k.experiments.worker import execute
from crypto401k.model import numpy_calls
from crypto401k.model.config import ConfigError

RUNS_SUBDIR = "runs"
# a Dask sweep stops when no worker has been connected for this long (a cluster that lost
# every worker would otherwise wait for one forever)
DASK_NO_WORKER_S = 60.0
DASK_POLL_S = 1.0
# failures of the machine, not of the run: they are not stored, so a rerun tries again
_RESOURCE_ERRORS = re.compile(r"^(MemoryError|_ArrayMemoryError|\w*Error: \[Errno (12|28)\])")


class SweepStoppedError(RuntimeError):
    """The sweep cannot go on (its cluster lost every worker); finished runs are kept."""


def is_resource_failure(record: dict[str, Any]) -> bool:
    """Whether a failed record failed for lack of memory or disk (errno 12 ENOMEM, 28
    ENOSPC), not because of its parameters."""
    return record.get("status") != "ok" and bool(
        _RESOURCE_ERRORS.match(str(record.get("error", "")))
    )


# task fields that may differ between the run that wrote a record and a rerun reusing it
NOT_COMPARED = frozenset({"overrides", "point", "code"})


def make_tasks(
    points: list[Point], seeds: list[int], window_days: int, code: str | None = None
) -> list[dict[str, Any]]:
    """One task per (point, seed), points in order, seeds in order within each. `code` (the
    git commit) is stored in each record, so a resumed sweep can tell which code ran what."""
    return [
        {
            "key": p.key,
            "point": p.index,
            "stage": p.stage,
            "seed": s,
            "window_days": window_days,
            "code": code,
            "overrides": p.overrides,
        }
        for p in points
        for s in seeds
    ]


def run_file(run_dir: Path, task: dict[str, Any]) -> Path:
    return run_dir / f"{task['key']}-seed{task['seed']}.json"


def read_finished(
    run_dir: Path, task: dict[str, Any], retry_failed: bool = False
) -> dict[str, Any] | None:
    """The stored record of a task, or None if it must run: no file, an unreadable one, one
    written for other settings (e.g. another shock window), or a failure to retry."""
    try:
        record = json.loads(run_file(run_dir, task).read_text())
    except (OSError, ValueError):
        return None
    if any(record.get(k) != v for k, v in task.items() if k not in NOT_COMPARED):
        return None
    if retry_failed and record.get("status") != "ok":
        return None
    return record


def write_record(run_dir: Path, record: dict[str, Any]) -> None:
    """Write one run's record atomically (temporary file in the same folder, then rename)."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=run_dir)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w") as f:
            json.dump(record, f, default=json_default, allow_nan=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, run_file(run_dir, record))
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_sweep(
    tasks: list[dict[str, Any]],
    run_dir: Path,
    *,
    workers: int = 1,
    client: Any = None,
    progress: bool = True,
    label: str = "runs",
    retry_failed: bool = False,
    fn: Callable[[dict[str, Any]], dict[str, Any]] = execute,
    no_worker_s: float = DASK_NO_WORKER_S,
) -> list[dict[str, Any]]:
    """Run every task that has no record yet; return one record per task, in task order.

    `client` is a `distributed.Client` (then `workers` is ignored); otherwise `workers` local
    processes (1: in this process). A run whose worker died (killed, out of memory) comes back
    as a failed record that is not written, so the next rerun tries it again; so does a run
    that failed for lack of memory or disk. A Dask cluster with no worker for `no_worker_s`
    seconds raises SweepStoppedError (the finished runs are already written).
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    # a writer killed between write and rename leaves its temporary file (one sweep writes a
    # folder at a time: run_experiment holds the folder's lock)
    for stale in run_dir.glob(".tmp-*.json"):
        stale.unlink(missing_ok=True)
    records: list[dict[str, Any] | None] = [read_finished(run_dir, t, retry_failed) for t in tasks]
    pending = [i for i, r in enumerate(records) if r is None]
    bar = _progress_bar(len(tasks), len(tasks) - len(pending), progress, label)
    try:
        if client is not None:
            results = _on_dask(client, fn, [tasks[i] for i in pending], no_worker_s)
        elif workers > 1 and len(pending) > 1:
            results = _on_processes(workers, fn, [tasks[i] for i in pending])
        else:
            results = ((j, fn(tasks[i])) for j, i in enumerate(pending))
        for j, record in results:
            if is_resource_failure(record):
                record = {**record, "lost": True}
            if not record.get("lost"):
                write_record(run_dir, record)
            records[pending[j]] = record
            bar.update(1)
    finally:
        bar.close()
    # a stored record may come from an earlier version of the spec: number it as now
    return [
        {**r, "point": t["point"]} if r is not None else lost_record(t, "not run")
        for r, t in zip(records, tasks, strict=True)
    ]


def lost_record(task: dict[str, Any], why: str) -> dict[str, Any]:
    """A failed record for a run whose worker was lost: kept in memory, never written."""
    record = {k: v for k, v in task.items() if k != "overrides"}
    record.update(status="failed", error=f"worker lost: {why}", lost=True)
    return record


def _context() -> multiprocessing.context.BaseContext:
    """Where the project's workers come from: a fork server (Python 3.14's default on Linux)
    where the platform has one, else spawned interpreters.

    Never a plain fork: forking a process whose numpy threads are running is unsafe. The
    fork server is a fresh, single-threaded interpreter that imports the worker's modules
    and loads the compiled rules once (`preload`); every worker of every later pool in this
    process is forked from it, so a pool starts in milliseconds instead of each worker
    importing numpy, scipy, numba and Mesa again and loading the rules on its first run
    (about 2 s and 0.5 s of CPU each; an estimate starts a pool for each of its rounds)."""
    server = "forkserver" in multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if server else "spawn")
    if server:  # takes effect when the server starts (with this process's first pool)
        ctx.set_forkserver_preload(["crypto401k.experiments.preload"])
    return ctx


def in_processes(
    workers: int, fn: Callable[[Any], Any], items: list[Any]
) -> Iterator[tuple[int, Future]]:
    """fn(item) for each item in at most `workers` processes (the project's one process
    pool; `_context` says where they come from); yields (index of the item, its finished
    future) as each finishes."""
    pool = ProcessPoolExecutor(
        min(workers, len(items)), mp_context=_context(), initializer=_one_blas_thread
    )
    try:
        futures = {pool.submit(fn, x): j for j, x in enumerate(items)}
        remaining = set(futures)
        while remaining:
            done, remaining = wait(remaining, return_when=FIRST_COMPLETED)
            for fut in done:
                yield futures[fut], fut
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _one_blas_thread() -> None:
    """Each pool worker's numpy on one OpenBLAS thread, as Dask's workers are: a worker runs
    one single-threaded model, and OpenBLAS's threads (started for a product of a matrix of
    rows x assets >= 9,216 and a vector: from about 2,300 cohorts with four assets, 9,216 with
    one) would only take cores from the other workers and spin after each product. No
    result depends on it (`tests/test_fiscal_ledger.py`). (One worker runs in the calling
    process, which keeps its own setting.)"""
    numpy_calls.blas_threads(1)


def _on_processes(workers: int, fn, tasks: list[dict[str, Any]]) -> Iterator[tuple[int, dict]]:
    for j, fut in in_processes(workers, fn, tasks):
        try:
            record = fut.result()
        except Exception as exc:  # the worker died (BrokenProcessPool...)
            record = lost_record(tasks[j], f"{type(exc).__name__}: {exc}")
        yield j, record


def _on_dask(
    client: Any, fn, tasks: list[dict[str, Any]], no_worker_s: float = DASK_NO_WORKER_S
) -> Iterator[tuple[int, dict]]:
    futures = client.map(fn, tasks, pure=False)
    index = {f.key: j for j, f in enumerate(futures)}
    pending = list(futures)
    alone_since: float | None = None  # since when no worker has been connected
    asked = 0.0
    try:
        while pending:
            finished = [f for f in pending if f.done()]  # local state: never blocks
            pending = [f for f in pending if not f.done()]
            for fut in finished:
                j = index[fut.key]
                try:
                    record = fut.result()
                except Exception as exc:  # KilledWorker, a lost connection...
                    record = lost_record(tasks[j], f"{type(exc).__name__}: {exc}")
                yield j, record
            if finished:
                alone_since = None
                continue
            time.sleep(0.05)
            if time.monotonic() - asked < DASK_POLL_S:
                continue
            asked = time.monotonic()
            if _dask_workers(client) > 0:
                alone_since = None
                continue
            alone_since = alone_since if alone_since is not None else asked
            if asked - alone_since >= no_worker_s:
                raise SweepStoppedError(
                    f"scheduler = {_dask_address(client)!r}: no worker connected for "
                    f"{no_worker_s:g} s with {len(pending)} of {len(tasks)} runs left; stopped "
                    "(finished runs are kept: start workers and run the same command to resume)"
                )
    finally:
        if pending and client.status == "running":
            with contextlib.suppress(Exception):  # the scheduler is gone: nothing to cancel
                client.cancel(pending)


def _dask_workers(client: Any) -> int:
    """Workers connected to the scheduler now (0 if it does not answer within a few
    seconds: a scheduler that went away has no worker for us either)."""
    if client.status != "running":
        return 0
    try:
        info = client.sync(client.scheduler.identity, n_workers=0, callback_timeout=5 * DASK_POLL_S)
        return int(info.get("n_workers", 0))
    except Exception:
        return 0


def _dask_address(client: Any) -> str:
    try:
        return str(client.scheduler.address)
    except Exception:
        return "?"


def connect(address: str, timeout_s: float = 10.0) -> Any:
    """A `distributed.Client` for the scheduler at `address`, with at least one worker;
    ConfigError if it cannot be reached or has no worker within `timeout_s`, or if Dask is
    not installed (the `dask` extra)."""
    distributed = require("distributed", "dask", f"scheduler = {address!r}: a Dask cluster")

    _check_reachable(address, timeout_s)
    # in a thread, so that a server that accepts the connection but never answers as a Dask
    # scheduler (observed: a minute past the Client's own timeout) is given up in bounded time
    made: dict[str, Any] = {}

    def make() -> None:
        try:
            made["client"] = distributed.Client(
                address, timeout=f"{timeout_s}s", set_as_default=False
            )
        except Exception as exc:  # a bad address raises anything from ValueError to OSError
            made["error"] = exc

    thread = threading.Thread(target=make, daemon=True, name="crypto401k-dask-connect")
    thread.start()
    thread.join(timeout_s + 5)
    if "client" not in made:
        exc = made.get("error")
        reason = (
            f"no answer within {timeout_s:g} s"
            if exc is None
            else (str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        )
        raise ConfigError(
            f"scheduler = {address!r}: cannot connect to a Dask scheduler there ({reason}); "
            "expected an address like tcp://HOST:8786"
        )
    client = made["client"]
    try:
        client.wait_for_workers(1, timeout=timeout_s)
    except Exception:
        client.close(timeout=timeout_s)
        raise ConfigError(
            f"scheduler = {address!r}: the scheduler has no worker (waited {timeout_s:g} s)"
        ) from None
    return client


_TCP = re.compile(r"^(?:tcp://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")


def _check_reachable(address: str, timeout_s: float) -> None:
    """ConfigError at once for a TCP address that is malformed or where nothing listens, so
    that distributed's Client is made only for a live scheduler (a failed Client waits its
    whole timeout and prints a traceback when it is collected). Other protocols (tls://,
    ucx://, inproc://) are left to the Client."""
    match = _TCP.match(address.strip())
    if match is None:
        if re.match(r"^(tls|ucx|inproc|ws|wss)://", address):
            return
        raise ConfigError(
            f"scheduler = {address!r}: not a scheduler address; expected one like tcp://HOST:8786"
        )
    host, port = match.group(1).strip("[]"), int(match.group(2))
    if not 0 < port < 65536:
        raise ConfigError(f"scheduler = {address!r}: port {port} must be in 1..65535")
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as exc:
        raise ConfigError(
            f"scheduler = {address!r}: cannot connect to a Dask scheduler there "
            f"({exc.strerror or type(exc).__name__}); expected an address like tcp://HOST:8786"
        ) from None


def _progress_bar(total: int, done: int, enabled: bool, label: str) -> Any:
    """Runs done, rate and time left on stderr; a bar that shows nothing when not `enabled`."""
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=done,
        unit="run",
        desc=label,
        file=sys.stderr,
        smoothing=0.1,
        disable=not enabled,
    )
