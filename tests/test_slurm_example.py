"""The SLURM example (docs/examples/slurm_sweep.py): its job script asks SLURM for what the
docs say, and its sweep runs on a LocalCluster to the same runs as local processes. No SLURM
is needed: a SLURMCluster submits nothing until it is scaled."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest
from crypto401k.experiments.experiment import run_experiment

from tests.test_experiments import GOOD, write_spec

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "slurm_sweep.py"


def load_example():
    spec = importlib.util.spec_from_file_location("slurm_sweep", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_slurm_job_script_runs_one_single_thread_worker_per_core():
    example = load_example()
    cluster = example.slurm_cluster(
        cores=8,
        memory="16GB",
        walltime="01:30:00",
        queue="normal",
        account="proj",
        python="/shared/venv/bin/python",
        env=["NUMBA_CACHE_DIR=/shared/numba"],
        constraint="epyc",
    )
    with cluster:
        script = cluster.job_script()
    assert "#SBATCH -p normal" in script
    assert "#SBATCH -A proj" in script
    assert "#SBATCH -t 01:30:00" in script
    assert "export OMP_NUM_THREADS=1" in script
    assert "export NUMBA_CACHE_DIR=/shared/numba" in script
    assert "#SBATCH --constraint=epyc" in script  # one CPU type (docs/cluster.md)
    assert "/shared/venv/bin/python -m distributed.cli.dask_worker" in script
    assert "--nworkers 8" in script and "--nthreads 1" in script


@pytest.mark.dask
def test_the_example_sweep_on_a_local_cluster_gives_the_local_runs(tmp_path):
    example = load_example()
    spec = write_spec(tmp_path, GOOD)
    local = run_experiment(
        str(spec), workers=1, out=tmp_path / "local", progress=False, figures=False
    )
    with example.local_cluster(2) as cluster:
        remote = example.sweep(str(spec), cluster, tmp_path / "dask")
    pd.testing.assert_frame_equal(local.runs, remote.runs)
    assert (tmp_path / "dask" / "summary.md").is_file()
