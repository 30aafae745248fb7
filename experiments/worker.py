"""The function a sweep's workers execute: one (parameter point, seed) pair in, one flat
record out. It never raises for a failing run: the error is returned, so the sweep goes on."""

from __future__ import annotations

import time
import traceback
from typing import Any

from crypto401k.experiments import outcomes
from crypto401k.experiments.registry import METRICS


def execute(task: dict[str, Any]) -> dict[str, Any]:
    """Run one task {"point", "seed", "overrides", "window_days", ...}; return its record.

    The record holds every key of the task but "overrides", plus status, error, wall_time_s
    and the metrics. Runs in worker processes, so it takes and returns plain data.
    """
    record = {k: v for k, v in task.items() if k != "overrides"}
    start = time.perf_counter()
    try:
        values = outcomes.run_metrics(task["overrides"], task["seed"], task.get("window_days", 180))
        record.update(status="ok", error="", **values)
        if values.pop("_diverged"):  # a failure of the model, never data
            record.update(status="diverged", error=_diverged_error(values, task["overrides"]))
    except Exception as exc:  # a failing run is data, not a crash of the sweep
        last = traceback.extract_tb(exc.__traceback__)[-1]
        record.update(
            status="failed",
            error=f"{type(exc).__name__}: {exc} ({last.filename.rsplit('/', 1)[-1]}:{last.lineno})",
            **dict.fromkeys(METRICS, float("nan")),
        )
    record["wall_time_s"] = time.perf_counter() - start
    return record


def _diverged_error(values: dict[str, Any], overrides: dict[str, Any]) -> str:
    ratio = outcomes.base_config(overrides.get("scenario")).run.divergence_ratio
    ratio = overrides.get("run.divergence_ratio", ratio)
    return (
        f"diverged: a price left [1/{ratio:g}, {ratio:g}] times its fundamental "
        f"(max |log(P/F)| = {values['max_log_mispricing']:.2f})"
    )
