"""The statistics now come from scipy.stats and give what the hand-written formulas gave.

The formulas below are the ones model/metrics.py and experiments/analysis.py computed by hand
before (population-moment skewness and excess kurtosis; the Student-t interval of a mean; the
Wilson score interval of a rate): the library versions must agree with them to rounding.
"""

from __future__ import annotations

import numpy as np
from crypto401k.experiments.analysis import mean_ci
from crypto401k.model import metrics
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

returns = st.lists(
    st.floats(-0.5, 0.5, allow_nan=False, allow_subnormal=False), min_size=2, max_size=400
).map(np.array)


def _moments(r: np.ndarray) -> tuple[float, float]:
    d = r - r.mean()
    var = (d**2).mean()
    return (d**3).mean() / var**1.5, (d**4).mean() / var**2 - 3.0


@given(returns)
def test_skew_and_kurtosis_match_the_moment_formulas(r):
    if np.ptp(r) == 0 or np.std(r) < 1e-9 * max(1.0, np.abs(r).max()):
        return  # constant (or numerically constant) series: covered below
    skew, kurt = _moments(r)
    assert np.isclose(metrics.skewness(r), skew, rtol=1e-7, atol=1e-9)
    assert np.isclose(metrics.excess_kurtosis(r), kurt, rtol=1e-7, atol=1e-9)


def test_a_constant_series_has_no_skew_or_kurtosis():
    flat = np.full(50, 0.01)
    assert np.isnan(metrics.skewness(flat)) and np.isnan(metrics.excess_kurtosis(flat))


def test_the_real_bitcoin_kurtosis_is_unchanged():
    from crypto401k.model.data import load_btc_close

    _, close = load_btc_close()
    r = metrics.log_returns(close)
    assert np.isclose(metrics.excess_kurtosis(r), _moments(r)[1], rtol=1e-12, atol=0)
    assert np.isclose(metrics.skewness(r), _moments(r)[0], rtol=1e-12, atol=0)


@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=60),
    st.sampled_from([0.9, 0.95, 0.99]),
)
def test_mean_ci_is_the_hand_written_t_interval(x, level):
    x = np.array(x)
    mean, lo, hi = mean_ci(x, level)
    half = stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    assert mean == x.mean()
    assert np.allclose([lo, hi], [mean - half, mean + half], rtol=1e-9, atol=1e-9 * (1 + abs(mean)))


@given(st.lists(st.sampled_from([0.0, 1.0]), min_size=1, max_size=80), st.sampled_from([0.9, 0.95]))
def test_mean_ci_of_a_rate_is_the_hand_written_wilson_interval(x, level):
    x = np.array(x)
    mean, lo, hi = mean_ci(x, level, binary=True)
    n, z = len(x), stats.norm.ppf(0.5 + level / 2)
    centre = (mean + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(mean * (1 - mean) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    assert np.allclose([lo, hi], [centre - half, centre + half], rtol=1e-12, atol=1e-12)
    assert 0.0 <= lo <= mean <= hi <= 1.0
