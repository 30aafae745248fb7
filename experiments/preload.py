"""What the sweep's fork server loads once (`sweep._context`), for every worker it forks.

Importing this module imports the worker's code and then runs a tiny model through the
worker's own path, so that numba's compiled rules are loaded from their cache into the
server's memory (the four-asset market's days load every rule a run uses: a BTC-only run,
or a crash, an exchange's failure or a stablecoin run after it, loads no more). Each worker
forked from the server then starts with them, instead of loading them on its first run
(a new pool's four tiny runs: 0.42 s before, 0.13 s after, BENCHMARKS.md), and an estimate
starts a pool for each of its rounds. The tiny run draws from its own generator (seed 0), so nothing
a worker computes depends on it. Importing this module runs a model: only the fork server
(and its test) should.
"""

from __future__ import annotations

from crypto401k.experiments.worker import execute

#: a tiny market (60 cohorts, 60 traders, 8 institutions), 5 days after a 5-day burn-in
_TINY = {
    "savers.n_cohorts": 60,
    "savers.n_employers": 6,
    "traders.n_traders": 60,
    "institutions.n_funds": 4,
    "institutions.n_lenders": 2,
    "institutions.n_market_makers": 2,
    "run.steps": 5,
    "run.burn_in_days": 5,
}


def load_compiled_rules() -> str:
    """Run the tiny four-asset market once; return its status ("ok"; a failure here would
    only mean a slower first run in each worker, so it never stops a sweep)."""
    overrides = {**_TINY, "scenario": "four_assets"}
    return execute({"point": 0, "seed": 0, "overrides": overrides, "window_days": 2})["status"]


load_compiled_rules()
