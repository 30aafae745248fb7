"""Provenance of an experiment's results: the code (package version, git commit, dirty
flag), the packages, the machine and the invocation, as manifest.json records them."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
from crypto401k.experiments.spec import (
    Point,
    Spec,
)
from crypto401k.model import __version__

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("mesa", "numpy", "pandas", "networkx", "scipy", "SALib", "dask", "distributed")


# ---- provenance --------------------------------------------------------------------------
def code_version() -> dict[str, Any]:
    """The package version, and the git commit with a dirty flag when run from a checkout."""
    info: dict[str, Any] = {"package": __version__}
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            # outputs (results/) do not make the code dirty
            [
                "git",
                "-C",
                str(REPO_ROOT),
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ".",
                ":!results",
            ],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        info.update(git_commit=commit, git_dirty=bool(dirty))
    except (OSError, subprocess.SubprocessError):
        info.update(git_commit=None, git_dirty=None)
    return info


def make_manifest(
    spec: Spec,
    quick: bool,
    seeds: list[int],
    points: list[Point],
    runs: pd.DataFrame,
    started: datetime,
    wall: float,
    workers: int,
    scheduler: str | None,
) -> dict[str, Any]:
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "experiment": spec.name,
        "quick": quick,
        "spec": spec.model_dump(),
        "seeds": seeds,
        "points": [
            {
                "stage": p.stage,
                "point": p.index,
                "key": p.key,
                "control": p.is_control,
                "params": p.params,
            }
            for p in points
        ],
        "runs": {
            "total": len(runs),
            "ok": int((runs["status"] == "ok").sum()),
            "failed": int((runs["status"] != "ok").sum()),
        },
        "code": {
            **code_version(),
            # the commits that produced the stored runs (more than one if a sweep resumed
            # across commits)
            "runs_by_commit": runs["code"].fillna("unknown").value_counts().to_dict(),
        },
        "packages": {"python": platform.python_version(), **versions},
        "machine": {
            "platform": platform.platform(),
            "processor": platform.machine(),
            "cpus": os.cpu_count(),
        },
        "execution": {"workers": workers, "scheduler": scheduler, "argv": sys.argv},
        "started_utc": started.isoformat(timespec="seconds"),
        "wall_time_s": round(wall, 2),  # this invocation (a resumed sweep counts only its part)
    }
