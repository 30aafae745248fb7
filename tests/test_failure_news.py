"""An exchange failure's news: the concave law, its least-squares fit on seven failures, the
docs' event table, and the cap on the fall (hypothesis for the law's shape)."""

from pathlib import Path

import numpy as np
import pytest
from crypto401k.experiments.calibrate import (
    FAILURE_EVENTS,
    bitstamp_week,
    failure_news_table,
    fit_failure_news,
    fit_power_law,
)
from crypto401k.model import scenarios
from crypto401k.model.agents.exchange import news_fall
from crypto401k.model.config import Config
from hypothesis import given
from hypothesis import strategies as st

CALIBRATION = Path(__file__).parent.parent / "docs" / "calibration.md"
losses = st.floats(0.0, 1.0, allow_nan=False)
laws = st.tuples(
    st.floats(0.01, 5.0),  # scale
    st.floats(0.05, 1.0),  # exponent: concave
    st.floats(0.05, 0.95),  # cap
)


@given(law=laws, a=losses, b=losses, w=st.floats(0.0, 1.0))
def test_the_news_law_is_monotone_concave_and_bounded_by_its_cap(law, a, b, w):
    scale, exponent, cap = law
    lo, hi = min(a, b), max(a, b)
    f = [news_fall(x, scale, exponent, cap) for x in (lo, hi)]
    assert 0.0 <= f[0] <= f[1] <= cap  # more lost: never less news, never beyond the cap
    mid = news_fall(w * lo + (1 - w) * hi, scale, exponent, cap)
    # concave: the fall at a mixture of losses is at least the mixture of the falls
    assert mid >= w * f[0] + (1 - w) * f[1] - 1e-12
    assert news_fall(0.0, scale, exponent, cap) == 0.0  # nothing lost, no news


def test_the_law_is_elementwise_on_arrays():
    x = np.array([0.0, 1e-4, 0.01, 0.5])
    out = news_fall(x, 0.9, 0.33, 0.38)
    assert out.shape == x.shape
    assert np.allclose(out, [news_fall(float(v), 0.9, 0.33, 0.38) for v in x])


@given(
    scale=st.floats(0.1, 3.0),
    exponent=st.floats(0.1, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_fit_recovers_a_known_law(scale, exponent, seed):
    rng = np.random.default_rng(seed)
    loss = np.exp(rng.uniform(np.log(1e-4), np.log(0.1), size=12))
    fall = scale * loss**exponent
    got_scale, got_exponent = fit_power_law(loss, fall)
    assert got_exponent == pytest.approx(exponent, abs=1e-4)
    assert got_scale == pytest.approx(scale, rel=1e-3)


def test_the_fit_recovers_a_law_through_noise():
    rng = np.random.default_rng(7)
    loss = np.exp(rng.uniform(np.log(1e-4), np.log(0.1), size=400))
    fall = 0.9 * loss**0.35 + rng.normal(0.0, 0.02, size=loss.size)
    scale, exponent = fit_power_law(loss, fall)
    assert exponent == pytest.approx(0.35, abs=0.03)
    assert scale == pytest.approx(0.9, rel=0.1)


def test_the_fit_holds_the_exponent_at_one_for_a_convex_law():
    loss = np.linspace(0.01, 0.1, 10)
    _, exponent = fit_power_law(loss, 3.0 * loss**2)
    assert exponent == pytest.approx(1.0, abs=1e-6)  # concavity is imposed, not found


def test_bitstamp_reactions_are_the_series_own_closes():
    # Bitfinex: eve 1 Aug 2016 close 607.61, seven days later 589.46 (the shipped file)
    assert bitstamp_week("2016-08-02") == pytest.approx(589.46 / 607.61 - 1.0)
    assert bitstamp_week("2014-02-07") is None  # before the series starts
    assert bitstamp_week("2022-11-07") is None  # after it ends
    for e in FAILURE_EVENTS:  # a cited reaction exactly where the series is silent
        assert (e.week_return is None) == (bitstamp_week(e.day) is not None)


def test_the_shipped_law_is_the_fit_on_the_events():
    fit = fit_failure_news()
    assert len(fit["events"]) >= 7
    x = Config().exchanges
    assert x.news_scale == pytest.approx(fit["scale"], abs=5e-4)
    assert x.news_exponent == pytest.approx(fit["exponent"], abs=5e-4)
    assert 0.0 < fit["exponent"] < 1.0  # the data chose a concave law
    # the cap is the largest observed fall, never beyond it
    assert x.news_cap == pytest.approx(fit["cap"])
    assert fit["cap"] == max(-r["week"] for r in fit["events"])
    assert scenarios.load("four_assets").exchanges.news_cap == x.news_cap


def test_the_docs_event_table_is_the_codes():
    fit = fit_failure_news()
    text = CALIBRATION.read_text(encoding="utf-8")
    assert failure_news_table(fit) in text
    # each event's predicted reaction in that table is the law with the shipped parameters
    x = Config().exchanges
    for r in fit["events"]:
        shipped = -news_fall(r["loss"], x.news_scale, x.news_exponent, x.news_cap)
        assert shipped == pytest.approx(r["predicted"], abs=0.002)
        assert f"| {r['event']} | {r['day']} |" in text


@pytest.mark.parametrize("news_days", [1, 2, 5])
def test_the_model_draws_its_news_from_the_law_over_its_news_days(news_days):
    from crypto401k.model.model import Crypto401kModel

    cfg = scenarios.load("four_assets").with_overrides(
        {
            "savers.n_cohorts": 150,
            "savers.n_employers": 10,
            "traders.n_traders": 80,
            "institutions.n_funds": 3,
            "institutions.n_lenders": 2,
            "institutions.n_market_makers": 2,
            "exchanges.failure_rate_annual": 0.0,
            "exchanges.fail_day": 5,
            "exchanges.fail_exchange": 0,
            "exchanges.news_days": news_days,
        }
    )
    m = Crypto401kModel(cfg, rng=1)
    m.run_for(5)
    price = m.market.price.copy()
    coins_cap = float(np.where(m.market.pegged, 0.0, price * m.market.supply).sum())
    days = [m._exchange_day(d) for d in range(5, 5 + news_days + 2)]
    loss = m.exchanges.lost_usd[0] / coins_cap
    x = cfg.exchanges
    fall = news_fall(loss, x.news_scale, x.news_exponent, x.news_cap)
    assert 0.0 < fall < x.news_cap
    # equal steps on the news days, nothing after; together they are the law's fall
    assert days[:news_days] == pytest.approx([days[0]] * news_days, rel=1e-12)
    assert days[news_days:] == [0.0, 0.0]
    assert 1.0 - np.prod(1.0 - np.array(days)) == pytest.approx(fall, rel=1e-12)


def test_news_of_two_failures_compounds_while_both_arrive():
    cfg = scenarios.load("four_assets").with_overrides({"exchanges.news_days": 3})
    from crypto401k.model.agents.exchange import ExchangePopulation

    x = ExchangePopulation(cfg, np.random.default_rng(0), 10, np.zeros(4, dtype=np.int64))
    x.failed[[0, 1]] = True
    x.failed_day[[0, 1]] = [10, 11]
    x.news_daily[[0, 1]] = [0.1, 0.2]
    assert x.news_today(10) == pytest.approx(0.1)
    assert x.news_today(12) == pytest.approx(1 - 0.9 * 0.8)
    assert x.news_today(13) == pytest.approx(0.2)
    assert x.news_today(14) == 0.0
