"""Metrics on series with known answers."""

import subprocess
import sys

import numpy as np
import pytest
from crypto401k.model import metrics
from hypothesis import given
from hypothesis import strategies as st


def test_gaussian_returns():
    r = np.random.default_rng(0).normal(0, 0.04, 100_000)
    assert abs(metrics.excess_kurtosis(r)) < 0.1
    assert abs(metrics.skewness(r)) < 0.05
    assert np.isclose(metrics.annualized_volatility(r), 0.04 * np.sqrt(365), rtol=0.02)
    assert abs(metrics.autocorrelation(np.abs(r), [1, 10]).max()) < 0.02


def test_student_t3_tail_index_near_3():
    r = np.random.default_rng(1).standard_t(3, 200_000)
    assert 2.5 < metrics.hill_tail_index(r, 0.05) < 3.5
    assert metrics.excess_kurtosis(r) > 3


@pytest.mark.filterwarnings("ignore:Precision loss occurred:RuntimeWarning")
@given(
    st.integers(0, 2**32 - 1),
    st.integers(2, 3000),
    st.sampled_from(["normal", "t2", "lognormal", "near_constant", "rounded"]),
)
def test_moments_are_scipy_s_bit_for_bit(seed, n, kind):
    # the two metrics repeat scipy 1.18's operations (the committed results were made with
    # 1.18.1), so that runs keep their bits without importing scipy.stats, whatever scipy is
    # installed: hold them to it on heavy tails, skews, ties and a variance lost in rounding
    # (where scipy, and so the metric, gives NaN); to 1e-12 under another scipy (1.13's
    # moments multiply where 1.18's call pow)
    import scipy
    from scipy import stats

    same_ops = scipy.__version__.startswith("1.18.")

    g = np.random.default_rng(seed)
    r = {
        "normal": lambda: g.normal(0.001, 0.04, n),
        "t2": lambda: g.standard_t(2, n) * 0.03,
        "lognormal": lambda: g.lognormal(0, 1.5, n),
        "near_constant": lambda: 1e9 + g.normal(0, 1e-8, n),
        "rounded": lambda: np.round(g.normal(0, 0.02, n), 3),
    }[kind]()
    flat = not np.ptp(r) > 0
    for ours, theirs in (
        (metrics.excess_kurtosis(r), stats.kurtosis(r, fisher=True, bias=True)),
        (metrics.skewness(r), stats.skew(r, bias=True)),
    ):
        assert type(ours) is float
        if flat or np.isnan(theirs):
            assert np.isnan(ours)
        else:
            assert np.float64(ours).view(np.int64) == np.float64(theirs).view(np.int64) or (
                not same_ops and np.isclose(ours, theirs, rtol=1e-12, atol=0)
            )


def test_the_worker_s_imports_leave_scipy_stats_out():
    # scipy.stats adds about 0.4-0.5 s to every sweep worker's and command's start
    code = (
        "import sys, crypto401k.experiments.worker, crypto401k.experiments.preload; "
        "print('scipy.stats' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_max_drawdown_and_crash_days():
    prices = np.array([100, 120, 60, 90, 30, 200.0])
    assert np.isclose(metrics.max_drawdown(prices), 30 / 120 - 1)
    r = metrics.log_returns(prices)
    assert metrics.crash_days(r, 0.10) == 5
    assert metrics.crash_days(np.log([1.05, 0.95, 1.11]), 0.10) == 1


def test_autocorrelation_of_ar1():
    rng = np.random.default_rng(2)
    x = np.zeros(50_000)
    for t in range(1, len(x)):
        x[t] = 0.6 * x[t - 1] + rng.normal()
    acf = metrics.autocorrelation(x, [1, 2])
    assert np.allclose(acf, [0.6, 0.36], atol=0.02)


def _garch(n: int, omega: float, alpha: float, beta: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    r = np.empty(n)
    var = omega / (1 - alpha - beta)
    for t in range(n):
        r[t] = np.sqrt(var) * rng.standard_normal()
        var = omega + alpha * r[t] ** 2 + beta * var
    return r


def test_garch_series_shows_volatility_clustering_and_fat_tails():
    r = _garch(50_000, omega=1e-5, alpha=0.10, beta=0.88, seed=3)
    acf = metrics.autocorrelation(np.abs(r), [1, 10, 50])
    assert acf[0] > 0.15 and acf[1] > 0.08 and acf[2] > 0.02  # clustering that lasts
    assert metrics.excess_kurtosis(r) > 1.0
    assert abs(metrics.autocorrelation(r, [1])[0]) < 0.02  # but no linear predictability
    iid = np.random.default_rng(3).permutation(r)  # same distribution, no clustering
    assert abs(metrics.autocorrelation(np.abs(iid), [1])[0]) < 0.02


def test_stylized_facts_names_and_values():
    prices = np.exp(np.cumsum(np.random.default_rng(4).normal(0, 0.04, 2000)))
    facts = metrics.stylized_facts(prices)
    assert tuple(facts) == metrics.FACT_NAMES
    assert np.isclose(facts["annualized_volatility"], 0.04 * np.sqrt(365), rtol=0.05)
    assert facts["max_drawdown"] < 0


def test_hop_distance_on_a_path_and_a_disconnected_node():
    import scipy.sparse as sp

    edges = [(0, 1), (1, 2), (2, 3)]
    rows, cols = zip(*(edges + [(b, a) for a, b in edges]), strict=True)
    adj = sp.csr_array((np.ones(len(rows)), (rows, cols)), shape=(5, 5))
    assert metrics.hop_distance(adj, np.array([0])).tolist() == [0, 1, 2, 3, -1]
    assert metrics.hop_distance(adj, np.array([0, 3])).tolist() == [0, 1, 1, 0, -1]
    assert metrics.hop_distance(adj, np.array([], dtype=int)).tolist() == [-1] * 5


@given(
    n=st.integers(1, 40),
    p=st.floats(0.0, 0.3),
    seed=st.integers(0, 10_000),
    k=st.integers(0, 5),
)
def test_hop_distance_is_networkx_multi_source_shortest_path(n, p, seed, k):
    import networkx as nx

    g = nx.gnp_random_graph(n, p, seed=seed)
    sources = np.random.default_rng(seed).choice(n, size=min(k, n), replace=False)
    expected = nx.multi_source_dijkstra_path_length(g, set(sources.tolist())) if k else {}
    got = metrics.hop_distance(nx.to_scipy_sparse_array(g, nodelist=range(n)), sources)
    assert got.tolist() == [int(expected.get(i, -1)) for i in range(n)]


def test_recovery_days_counts_until_the_pre_shock_level():
    p = np.array([100.0, 100.0, 70.0, 80.0, 101.0, 90.0])
    assert metrics.recovery_days(p, 2) == (2, True)
    assert metrics.recovery_days(np.array([100.0, 60.0, 70.0]), 1) == (2, False)


def test_window_losses_and_loss_share():
    pnl = np.array([[0.0, 0.0, 0.0], [-1.0, -3.0, 2.0], [-2.0, -6.0, 1.0]])
    losses = metrics.window_losses(pnl, 0, 2)
    assert losses.tolist() == [2.0, 6.0, -1.0]
    assert metrics.loss_share(losses, 0) == 0.25  # the gainer counts as zero
    assert np.isnan(metrics.loss_share(np.array([-1.0, -2.0]), 0))


def test_mean_pairwise_correlation_of_known_series():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((5000, 3))
    same = np.column_stack([z[:, 0], z[:, 0], -z[:, 0]])  # pairs: +1, -1, -1
    assert metrics.mean_pairwise_correlation(same) == pytest.approx(-1 / 3)
    assert abs(metrics.mean_pairwise_correlation(z)) < 0.05
    assert np.isnan(metrics.mean_pairwise_correlation(z[:, :1]))  # one asset
    assert np.isnan(metrics.mean_pairwise_correlation(z[:2]))  # two days
    flat = z.copy()
    flat[:, 1] = 0.0  # a pegged asset does not move
    assert np.isnan(metrics.mean_pairwise_correlation(flat))
