"""The shipped Bitcoin series, and the metrics checked against DESIGN.md's numbers for it."""

import numpy as np
import pytest
from crypto401k.model import metrics
from crypto401k.model.data import load_btc_close, load_closes


@pytest.fixture(scope="module")
def btc():
    return load_btc_close()


def test_series_is_the_documented_one(btc):
    dates, close = btc
    assert len(close) == 1865
    assert str(dates[0]) == "2014-11-28" and str(dates[-1]) == "2020-01-17"
    assert (np.diff(dates).astype(int) > 0).all()


def test_metrics_reproduce_the_calibration_targets(btc):
    """DESIGN.md: vol 0.76 (daily std 0.040), excess kurtosis 6.5, Hill 3.2, acf(r,1) -0.02,
    acf(|r|) 0.27 / 0.16 / 0.085 / 0.02 at lags 1 / 10 / 50 / 100, max drawdown -0.83."""
    _, close = btc
    r = metrics.log_returns(close)
    assert len(r) == 1864
    assert metrics.annualized_volatility(r) == pytest.approx(0.76, abs=0.01)
    assert metrics.excess_kurtosis(r) == pytest.approx(6.5, abs=0.3)
    assert metrics.hill_tail_index(r, 0.05) == pytest.approx(3.2, abs=0.15)
    assert metrics.autocorrelation(r, [1])[0] == pytest.approx(-0.02, abs=0.02)
    acf_abs = metrics.autocorrelation(np.abs(r), [1, 10, 50, 100])
    assert acf_abs == pytest.approx([0.27, 0.16, 0.085, 0.02], abs=0.02)
    assert metrics.max_drawdown(close) == pytest.approx(-0.83, abs=0.01)


def test_unreadable_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("when,what\nyesterday,1\n")
    with pytest.raises(ValueError, match="cannot read a date,close series"):
        load_btc_close(bad)


def test_several_assets_reproduce_issue_8_targets():
    """Issue 8: annualized volatility BTC 0.76, ETH 1.00, LTC 1.14 (each over its own days);
    return correlations BTC-ETH 0.75, BTC-LTC 0.72, ETH-LTC 0.81 (over the common days)."""
    dates, names, closes = load_closes()
    assert names == ["btc", "eth", "ltc"] and closes.shape == (len(dates), 3)
    assert str(dates[np.isfinite(closes[:, 1])][0]) == "2017-11-09"
    vols, corr = metrics.cross_asset_facts(closes)
    assert vols == pytest.approx([0.76, 1.00, 1.14], abs=0.01)
    assert corr[0, 1] == pytest.approx(0.75, abs=0.01)
    assert corr[0, 2] == pytest.approx(0.72, abs=0.01)
    assert corr[1, 2] == pytest.approx(0.81, abs=0.01)
    assert np.allclose(corr, corr.T) and np.allclose(np.diag(corr), 1.0)


def test_cross_asset_facts_on_a_known_case():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((20_000, 2))
    r = np.column_stack([0.02 * z[:, 0], 0.03 * (0.6 * z[:, 0] + 0.8 * z[:, 1])])
    prices = np.exp(np.cumsum(np.vstack([np.zeros((1, 2)), r]), axis=0))
    prices[:100, 1] = np.nan  # the second asset starts later
    vols, corr = metrics.cross_asset_facts(prices)
    assert vols == pytest.approx([0.02 * np.sqrt(365), 0.03 * np.sqrt(365)], rel=0.02)
    assert corr[0, 1] == pytest.approx(0.6, abs=0.02)
