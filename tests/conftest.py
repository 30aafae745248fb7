"""Shared helpers: small scenarios that run in a fraction of a second; the test layers."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest
from crypto401k.model.config import Config
from hypothesis import HealthCheck, Phase, settings

settings.register_profile(
    "default",
    deadline=None,
    max_examples=20,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(  # generate many cases fast, skip shrinking (for hunting bugs)
    "noshrink",
    deadline=None,
    max_examples=40,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

SMALL = {
    "savers.n_cohorts": 200,
    "savers.n_employers": 10,
    "traders.n_traders": 100,
    "institutions.n_funds": 4,
    "institutions.n_lenders": 3,
    "institutions.n_market_makers": 2,
    "run.steps": 200,
    # every plan offers crypto and every participant opts in (the upper bound): the tests of
    # the other rules see the plans' full flows; tests/test_saver_rule.py checks the offering
    # share, its ramp and the uptake at their own values
    "savers.offer_share_start": 1.0,
    "savers.offer_share_end": 1.0,
    "savers.uptake": 1.0,
}


def small_config(**overrides: Any) -> Config:
    """A small scenario; keyword names use '__' for '.', e.g. savers__allocation=0.05."""
    items = dict(SMALL)
    items.update({k.replace("__", "."): v for k, v in overrides.items()})
    return Config().with_overrides(items)


def readonly(a: Any) -> np.ndarray:
    """`a` as a read-only float64 array, as the market hands its prices to the rules: each
    compiled rule is compiled once per argument type, and a writable price would compile a
    second version of it in a clean clone's first test run."""
    out = np.array(a, dtype=float)
    out.flags.writeable = False
    return out


# ---- layers ------------------------------------------------------------------------------
# Tests that take more than about 3 s on the 2-core machine (pytest --durations), by module:
# marked `slow` here, in one place, so that `pytest -m "not slow"` is the fast layer (about a
# minute). A test may also carry @pytest.mark.slow itself. tests/test_layers.py checks that
# every name below is a test of its module.
SLOW: dict[str, set[str]] = {
    "test_agencies.py": {
        "test_joint_dol_sec_rule_takes_effect_exactly_at_the_slower_lag_with_perfect_coordination",
        "test_the_cftc_leverage_cap_binds_once_in_force",
        "test_an_agency_that_never_acts_changes_nothing",
        "test_under_the_executive_order_inflows_start_when_the_dol_rule_is_final",
        "test_a_joint_rule_with_an_idle_partner_never_takes_effect",
    },
    "test_app.py": {"test_the_page_renders_without_a_browser"},
    "test_assets.py": {"test_an_ftx_sized_failure_moves_bitcoins_week_by_the_news_law"},
    "test_benchmark.py": {
        "test_benchmark_command_writes_every_figure",
        "test_memory_estimate_bounds_the_measured_peak_and_its_growth",
    },
    "test_divergence.py": {"test_no_point_in_the_documented_ranges_diverges"},
    "test_estimate.py": {
        "test_recovery_of_known_parameters_and_resume_gives_the_same_estimate",
        "test_the_command_writes_the_estimate_the_fit_and_the_out_of_sample_check",
        "test_the_second_stage_estimates_the_asset_parameters_end_to_end",
    },
    "test_experiments.py": {
        "test_result_does_not_depend_on_workers_or_on_resuming",
        "test_a_failing_run_is_recorded_and_the_sweep_goes_on",
        "test_killed_sweep_resumes_to_the_same_runs_parquet",
        "test_dask_local_cluster_gives_the_same_runs",
        "test_quick_default_out_never_touches_results",
        "test_cli_prints_the_answer",
        "test_a_dead_worker_loses_only_its_runs_and_a_rerun_retries_them",
        "test_retry_failed_reruns_recorded_failures",
        "test_unreachable_scheduler_exits_2_before_anything_runs",
    },
    "test_fiscal_ledger.py": {
        "test_traditional_and_roth_give_the_same_pv_at_equal_rates_discounting_at_the_return",
        "test_no_crypto_fixed_return_matches_the_closed_form_to_the_cent",
    },
    "test_model_properties.py": {
        "test_same_seed_same_output_bit_for_bit",
        "test_prices_positive_and_finite",
        "test_cash_and_coins_are_conserved_every_step",
        "test_extreme_configurations_keep_prices_finite_and_books_balanced",
        "test_run_goes_to_the_last_day_wherever_it_starts",
    },
    "test_one_way.py": {"test_map_seeds_goes_through_the_pool_in_seed_order"},
    "test_network.py": {"test_block_model_is_networkx_s_graph_from_the_same_draws"},
    "test_package.py": {
        "test_installed_as_crypto401k_and_nothing_named_model_outside_the_repository"
    },
    "test_reference.py": {"test_reference_gives_the_engine_s_model_bit_for_bit"},
    "test_slurm_example.py": {"test_the_example_sweep_on_a_local_cluster_gives_the_local_runs"},
    "test_validate.py": {
        "test_validate_json_has_every_fact_and_a_distance",
        "test_validate_result_does_not_depend_on_workers",
        "test_validate_assets_reports_each_asset_and_pair_beside_bitcoin",
        "test_calibrate_scores_every_grid_point_best_first",
    },
}
# module-scoped fixtures that are expensive to build: the tests that use one stay on one
# pytest-xdist worker (--dist loadgroup), which builds it once; they are slow as a whole.
# test_experiments.py's `quick` runs each experiment when first used, so its tests are
# grouped by experiment (the `name` they are parametrized with; dampen otherwise).
SHARED_FIXTURES = {
    "quick": "experiments-quick",
    "server": "browser",
    "browser": "browser",
    "swept": "draws-swept",  # test_draws.py: a tiny experiment with parameter draws
}


def _group(item: pytest.Item, fixture: str, group: str) -> str:
    if fixture == "quick":
        params = getattr(getattr(item, "callspec", None), "params", {})
        return f"{group}-{params.get('name', 'dampen')}"
    return group


@pytest.hookimpl(tryfirst=True)  # before xdist reads the xdist_group marks, and before -m
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        name = getattr(item, "originalname", item.name)
        if name in SLOW.get(item.path.name, ()):
            item.add_marker(pytest.mark.slow)
        fixtures = getattr(item, "fixturenames", ())
        for fixture, group in SHARED_FIXTURES.items():
            if fixture in fixtures:
                item.add_marker(pytest.mark.xdist_group(_group(item, fixture, group)))
                item.add_marker(pytest.mark.slow)
        if "browser" in fixtures:
            item.add_marker(pytest.mark.browser)
        if "dask" in name:
            item.add_marker(pytest.mark.dask)


# the longest tests (pytest --durations, 2-core machine), longest first: pytest-xdist hands
# out tests in collection order, so these start at once instead of ending the run on one
# core while the other idles; then the rest of the slow layer, then the fast layer
LONGEST_FIRST = (
    "test_recovery_of_known_parameters_and_resume_gives_the_same_estimate",
    "test_the_app_as_a_researcher_uses_it",
    "test_killed_sweep_resumes_to_the_same_runs_parquet",
    "test_benchmark_command_writes_every_figure",
    "test_the_second_stage_estimates_the_asset_parameters_end_to_end",
)


def _cost_rank(item: pytest.Item) -> tuple[int, int]:
    name = getattr(item, "originalname", item.name)
    if name in LONGEST_FIRST:
        return (0, LONGEST_FIRST.index(name))
    return (1, 0) if item.get_closest_marker("slow") else (2, 0)


class _LongestFirst:
    @pytest.hookimpl(trylast=True)  # after the marks above and pytest's order by fixture
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        items.sort(key=_cost_rank)  # stable: each layer keeps its order


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_LongestFirst(), "crypto401k-longest-first")
