"""Metrics on series with known answers."""

import numpy as np

from model import metrics


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
