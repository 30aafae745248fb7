"""One way per thing: one process pool, one scenario loader, one run summary."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = [*ROOT.glob("model/**/*.py"), *ROOT.glob("experiments/**/*.py"), ROOT / "app.py"]


def _calls(name: str) -> dict[str, int]:
    """Source file -> how many times it calls or names `name` (a pool's constructor)."""
    found: dict[str, int] = {}
    for path in PACKAGE:
        tree = ast.parse(path.read_text("utf-8"))
        n = sum(
            1
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and (
                (isinstance(node.func, ast.Name) and node.func.id == name)
                or (isinstance(node.func, ast.Attribute) and node.func.attr == name)
            )
        )
        if n:
            found[str(path.relative_to(ROOT))] = n
    return found


def test_one_process_pool():
    """Local processes are started in one place, the sweep engine's `in_processes`."""
    assert _calls("ProcessPoolExecutor") == {"experiments/sweep.py": 1}
    assert _calls("Pool") == {}
    assert _calls("get_context") == {"experiments/sweep.py": 1}


def test_workers_come_from_a_fork_server_where_there_is_one(monkeypatch):
    import multiprocessing

    from crypto401k.experiments import sweep

    assert sweep._context().get_start_method() == "forkserver"  # Linux, as CI
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    assert sweep._context().get_start_method() == "spawn"  # never a plain fork


# the compiled rules a day of the model calls from Python; the kernels' inner helpers and the
# institutions' balance-sheet helpers are called only from other compiled code (or by no run)
DAILY_RULES = {
    "kernels": {"_supply_scale", "_book_sums", "_net_flow"},
    # the orders run inside `_decide_at`; the post-trade sequence (take_flow, layoff,
    # credit, payout) inside `_after_trade`
    # the funds' mean leverage runs inside the model's `record_marks`
    "institution": {"_mm_capacity_at", "_decide_at", "_after_trade"},
    # the stress, the depth and the market makers' shares run inside `_counterparty_shares`
    # (`Market.quote`), the impact law inside `_linear_move`
    "market": {
        "_coins_cap",
        "_counterparty_shares",
        "_linear_move",
        "_apply_move",
        "_sample_std",
        "random_walk",
    },
    # the fear share over the social network runs inside the model's `savers_fear`
    "model": {"savers_fear", "menu_drawdown", "close_books", "record_marks", "outside_order"},
    # the panic hazard and the concentration cap of the day's orders run inside `_saver_rule`
    "saver": {"_offer", "_fill", "_fill_within_cap", "_settle", "_saver_rule", "_close_marks"},
    # the switching index, the orders and the margin check run inside `_trader_rule`
    "trader": {"_trader_rule", "_settle", "_refill"},
}


def _rules_loaded(_: int) -> dict[str, int]:
    """How many compiled versions each daily rule has, as `module.rule`."""
    from crypto401k.model import kernels, market
    from crypto401k.model import model as model_module
    from crypto401k.model.agents import institution, saver, trader

    modules = {"kernels": kernels, "market": market, "model": model_module}
    modules.update({"institution": institution, "saver": saver, "trader": trader})
    loaded = {}
    for name, module in modules.items():
        for rule, f in vars(module).items():
            own = hasattr(f, "signatures") and f.py_func.__module__ == module.__name__
            if own and (rule in DAILY_RULES[name]):
                loaded[f"{name}.{rule}"] = len(f.signatures)
    return loaded


def test_workers_start_with_the_compiled_rules_loaded():
    """The fork server runs the tiny market of `preload` once, so that every worker forked
    from it has the daily compiled rules in memory before its first run (whatever this
    process has run itself: the worker's state is the server's)."""
    from crypto401k.experiments import preload, sweep

    assert preload.load_compiled_rules() == "ok"
    [(_, done)] = list(sweep.in_processes(2, _rules_loaded, [0]))
    loaded = done.result()
    assert len(loaded) == 3 + 3 + 6 + 5 + 6 + 3, loaded
    assert all(n >= 1 for n in loaded.values()), loaded


def test_workers_run_numpy_on_one_blas_thread():
    """Each pool worker's OpenBLAS starts no threads of its own (`sweep._one_blas_thread`),
    whatever this process allows."""
    from crypto401k.experiments import sweep
    from crypto401k.model import numpy_calls

    before = numpy_calls.blas_threads()
    if before < 2:  # 0: another BLAS than OpenBLAS; 1: one CPU, or one thread asked for
        pytest.skip(f"numpy's BLAS runs {before} thread(s) in this process: nothing to lower")
    threads = [f.result() for _, f in sweep.in_processes(2, numpy_calls.blas_threads, [None] * 2)]
    assert threads == [1, 1]
    assert numpy_calls.blas_threads() == before  # this process keeps its own setting


def _square_plus(seed: int, years: float) -> float:
    return seed * seed + years


def test_map_seeds_goes_through_the_pool_in_seed_order():
    from crypto401k.experiments.validate import map_seeds

    seeds = [5, 1, 4, 2]
    expected = [_square_plus(s, 0.5) for s in seeds]
    assert map_seeds(_square_plus, seeds, 0.5, 1) == expected
    assert map_seeds(_square_plus, seeds, 0.5, 2) == expected


def test_one_scenario_loader(tmp_path):
    """`scenarios.load` reads a built-in scenario by name or a file by path; nothing else in
    the package reads a scenario file."""
    from crypto401k.model import scenarios
    from crypto401k.model.config import Config

    assert _calls("from_toml") == {"model/scenarios/__init__.py": 1}
    copy = tmp_path / "mine.toml"
    copy.write_bytes(scenarios.file("agencies").read_bytes())
    assert scenarios.load(copy) == scenarios.load("agencies") == scenarios.load(str(copy))
    assert scenarios.load("btc_only") == Config()


def test_one_default_scenario(tmp_path, monkeypatch):
    """`Config()`, the model without a config, the CLI without --config and the built-in
    default scenario are one scenario."""
    from crypto401k.experiments import cli
    from crypto401k.model import scenarios
    from crypto401k.model.config import Config
    from crypto401k.model.model import Crypto401kModel

    assert scenarios.load() == scenarios.load(scenarios.DEFAULT) == Config()
    assert cli.load_config(None, None, None, []) == Config()
    small = {"savers.n_cohorts": 20, "traders.n_traders": 20, "savers.n_employers": 2}
    assert Crypto401kModel(**small).config == Config().with_overrides(small)
