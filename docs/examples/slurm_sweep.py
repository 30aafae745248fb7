"""Run an experiment's sweep on a SLURM cluster with dask-jobqueue (a worked example).

    pip install "crypto401k[slurm]"          # dask-jobqueue, on the login node and the nodes
    python docs/examples/slurm_sweep.py sensitivity --jobs 10 --cores 16 --memory 32GB \\
        --walltime 02:00:00 --queue normal --account myproject --out results/sensitivity

Each SLURM job is one node's worth of Dask workers: `--cores` single-threaded worker processes
(the model is single-threaded, so one process per core is the fastest layout) sharing
`--memory`. The script submits `--jobs` such jobs, waits for the sweep and writes the same
files as `crypto401k experiment` (summary.md, runs.parquet, manifest.json) to `--out`; the
result is the same bit for bit as on a laptop, whatever the number of nodes. An interrupted
sweep (a job killed at its walltime, a node lost) resumes where it stopped when the same
command is run again: finished runs are files in OUT/runs/.

`--local` runs the same sweep on a `distributed.LocalCluster` on this machine instead (no
SLURM needed): try the script there first (the tests run it that way).

The workers need this package installed in the same environment (`--python` picks the
interpreter the jobs start, e.g. the project's `.venv/bin/python` on a shared file system).
numba keeps the engine's compiled kernels next to the package (`__pycache__`); where that is
read-only on the nodes, set `NUMBA_CACHE_DIR` to a writable shared folder (`--env`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from crypto401k.experiments.experiment import run_experiment


def slurm_cluster(
    cores: int,
    memory: str,
    walltime: str,
    queue: str | None = None,
    account: str | None = None,
    python: str | None = None,
    env: list[str] | None = None,
    constraint: str | None = None,
) -> Any:
    """A `dask_jobqueue.SLURMCluster` whose jobs each run `cores` one-thread workers, on
    nodes with the SLURM feature `constraint` if given (one CPU type: runs are the same bit
    for bit only on one, docs/cluster.md). No job is submitted until the cluster is scaled
    (`cluster.scale(jobs=...)`)."""
    from dask_jobqueue import SLURMCluster

    return SLURMCluster(
        cores=cores,
        processes=cores,  # one worker process per core, one thread each
        memory=memory,
        walltime=walltime,
        queue=queue,
        account=account,
        python=python or sys.executable,
        # numpy's BLAS must not start threads of its own in each of the workers
        job_script_prologue=[f"export {e}" for e in ["OMP_NUM_THREADS=1", *(env or [])]],
        job_extra_directives=[f"--constraint={constraint}"] if constraint else [],
    )


def local_cluster(workers: int) -> Any:
    """A `distributed.LocalCluster` of `workers` one-thread processes on this machine."""
    import distributed

    return distributed.LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
    )


def sweep(
    experiment: str, cluster: Any, out: Path, seeds: int | None = None, quick: bool = False
) -> Any:
    """Run (or resume) `experiment` (a built-in name or a spec file) on `cluster`; returns
    its `Outcome` (runs, summary) as `crypto401k experiment` does."""
    return run_experiment(
        experiment,
        scheduler=cluster.scheduler_address,
        out=out,
        seeds=seeds,
        quick=quick,
        progress=False,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("experiment", help="a built-in experiment's name or a spec file")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--seeds", type=int, default=None, help="seeds per point (spec's if unset)")
    p.add_argument("--quick", action="store_true", help="the spec's quick size")
    p.add_argument("--local", type=int, metavar="WORKERS", help="a LocalCluster, not SLURM")
    p.add_argument("--jobs", type=int, default=4, help="SLURM jobs (nodes) to submit")
    p.add_argument("--cores", type=int, default=16, help="cores (= worker processes) a job")
    p.add_argument("--memory", default="32GB", help="memory a job")
    p.add_argument("--walltime", default="02:00:00", help="walltime a job")
    p.add_argument("--queue", default=None, help="SLURM partition")
    p.add_argument("--account", default=None, help="SLURM account")
    p.add_argument("--python", default=None, help="the interpreter the jobs start")
    p.add_argument("--env", action="append", default=[], help="NAME=VALUE set in each job")
    p.add_argument(
        "--constraint", default=None, help="SLURM node feature (one CPU type, e.g. 'epyc')"
    )
    args = p.parse_args(argv)
    if args.local:
        cluster = local_cluster(args.local)
    else:
        cluster = slurm_cluster(
            args.cores,
            args.memory,
            args.walltime,
            args.queue,
            args.account,
            args.python,
            args.env,
            args.constraint,
        )
        cluster.scale(jobs=args.jobs)
    with cluster:
        outcome = sweep(args.experiment, cluster, args.out, args.seeds, args.quick)
    print(f"{len(outcome.runs)} runs; summary in {args.out / 'summary.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
