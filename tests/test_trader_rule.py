"""The retail trader's rule: strategies, budget, leverage and liquidation."""

import numpy as np
import scipy.sparse as sp
from crypto401k.model.agents.trader import (
    CHARTIST,
    FUNDAMENTALIST,
    NOISE,
    TraderPopulation,
    attention_factor,
)
from crypto401k.model.model import Crypto401kModel
from crypto401k.model.policy import PolicyEffects
from hypothesis import given
from hypothesis import strategies as st

from tests.array_rules import budget_clip, needs_liquidation
from tests.conftest import readonly, small_config

PRICE = readonly([100.0])  # USD/coin, read-only as the market's prices


def _population(n=50, **overrides):
    quiet = {
        "traders__n_traders": n,
        "traders__idiosyncratic_noise": 0.0,
        "traders__fundamentalist_noise": 0.0,
        "traders__chartist_noise": 0.0,
        "traders__switching_rate": 0.0,
        "traders__rebalance_speed": 0.0,
        "traders__leverage_share": 0.0,
    }
    cfg = small_config(**(quiet | overrides))
    rng = np.random.default_rng(3)
    pop = TraderPopulation(cfg, rng, PRICE, PRICE * 1e6, sp.csr_array((n, n)))
    return pop, rng


def test_fundamentalists_buy_below_value_and_sell_above():
    pop, rng = _population()
    pop.strategy[:] = FUNDAMENTALIST
    cheap = pop.decide(0, PRICE, np.log(PRICE * 1.2), PolicyEffects.none(), rng)
    dear = pop.decide(0, PRICE, np.log(PRICE * 0.8), PolicyEffects.none(), rng)
    assert (cheap > 0).all() and (dear < 0).all()


def test_chartists_follow_the_trend():
    pop, rng = _population()
    pop.strategy[:] = CHARTIST
    pop.trend[:] = 0.02
    assert (pop.decide(0, PRICE, np.log(PRICE), PolicyEffects.none(), rng) > 0).all()
    pop.trend[:] = -0.02
    assert (pop.decide(0, PRICE, np.log(PRICE), PolicyEffects.none(), rng) < 0).all()


def test_noise_traders_ignore_price_signals():
    pop, rng = _population()
    pop.strategy[:] = NOISE
    pop.trend[:] = 0.05
    assert (pop.decide(0, PRICE, np.log(PRICE * 2), PolicyEffects.none(), rng) == 0).all()


def test_budget_clip_keeps_weights_in_bounds():
    w = np.array([[-0.2], [0.5], [3.0]])
    out = budget_clip(w, np.array([1.0, 1.0, 2.0]))
    assert np.allclose(out[:, 0], [0.0, 0.5, 2.0])


def test_unlevered_traders_never_borrow():
    pop, rng = _population(traders__fundamentalist_reaction=10.0)
    pop.strategy[:] = FUNDAMENTALIST
    orders = pop.decide(0, PRICE, np.log(PRICE * 5), PolicyEffects.none(), rng)
    pop.settle(orders, PRICE)
    assert (pop.cash >= -1e-6 * np.abs(pop.equity(PRICE))).all()


def test_liquidation_below_maintenance_margin():
    position = np.array([100.0, 100.0, 100.0])
    equity = np.array([4.0, 6.0, 4.0])
    leverage = np.array([10.0, 10.0, 1.0])
    # maintenance 0.5 of initial margin 10% -> liquidate when equity < 5% of position
    assert needs_liquidation(position, equity, leverage, 0.5).tolist() == [True, False, False]


def test_liquidated_trader_sells_everything_and_bad_debt_is_written_off():
    pop, rng = _population(n=10, traders__leverage_share=1.0, traders__max_leverage=10.0)
    pop.leverage[:] = 10.0
    pop.coins[:, 0] = 1.0
    pop.cash[:] = -96.0  # equity 4 at price 100: below maintenance
    orders = pop.decide(5, PRICE, np.log(PRICE), PolicyEffects.none(), rng)
    assert np.allclose(orders[:, 0], -1.0)
    written_off = pop.settle(orders, readonly(PRICE * 0.9))  # sold at 90: equity -6 each
    assert np.isclose(written_off, 60.0)
    assert (pop.cash == 0).all() and (pop.coins == 0).all()
    assert pop.liquidations == 10 and pop.fear(6).all()


def test_regulator_leverage_cap_binds():
    pop, rng = _population(
        n=10,
        traders__leverage_share=1.0,
        traders__max_leverage=10.0,
        traders__fundamentalist_reaction=10.0,  # the largest allowed: demand far beyond the cap
    )
    pop.strategy[:] = FUNDAMENTALIST
    orders = pop.decide(0, PRICE, np.log(PRICE * 3), PolicyEffects(leverage_cap=2.0), rng)
    pop.settle(orders, PRICE)
    weight = pop.coins[:, 0] * PRICE[0] / pop.equity(PRICE)
    assert weight.max() <= 2.0 + 1e-9


@given(
    days=st.floats(1.0, 400.0),
    cap=st.floats(1e6, 1e13),
    price=st.floats(1.0, 1e6),
    quiet_days=st.integers(1, 50),
)
def test_refill_closes_each_account_s_gap_to_its_share_geometrically(days, cap, price, quiet_days):
    """Each day an account gets 1/refill_days of the gap between its day-0 share of
    wealth_share x the coins' cap and its equity; the sum paid is returned."""
    pop, _ = _population(n=20, traders__refill_days=days)
    p = readonly([price])
    pop.cash[:5] -= 3.0 * pop.equity(p)[:5]  # losers (some with negative equity)
    target = pop.cfg.wealth_share * cap * pop.entry_share
    gap0 = target - pop.equity(p)
    before = pop.equity(p).sum()
    paid = pop.refill(p, cap)
    assert np.isclose(paid, gap0.sum() / days, rtol=1e-9, atol=1e-6 * abs(gap0).max())
    assert np.isclose(pop.equity(p).sum() - before, paid, rtol=1e-9, atol=1e-6 * abs(paid))
    for _ in range(quiet_days - 1):
        pop.refill(p, cap)
    left = (1.0 - 1.0 / days) ** quiet_days
    assert np.allclose(target - pop.equity(p), gap0 * left, rtol=1e-6, atol=1e-9 * target.max())


def test_no_refill_leaves_a_closed_sector():
    pop, _ = _population(n=10, traders__refill_days=None)
    cash = pop.cash.copy()
    assert pop.refill(PRICE, 1e12) == 0.0
    assert np.array_equal(pop.cash, cash)


def test_retail_money_keeps_the_sector_at_its_share_of_the_market():
    """Traders pay their trading costs to the outside market; without new money their share
    of the coins' cap shrinks year by year, with it the share stays near `wealth_share`."""
    share = {}
    for days in (None, 60.0):
        cfg = small_config(
            **{"traders__refill_days": days, "run__steps": 730, "savers__allocation": 0.0}
        )
        m = Crypto401kModel(cfg, rng=4)
        m.run()
        p = m.market.price
        share[days] = m.traders.equity(p).sum() / (p * m.market.supply).sum()
        books = m.books()
        assert np.isclose(books["cash"], books["cash_expected"], rtol=1e-9)
    w = small_config().traders.wealth_share
    assert abs(share[60.0] - w) < 0.15 * w
    assert share[None] < share[60.0]


@given(
    r=st.floats(-0.9, 0.9),
    attention=st.floats(0.0, 20.0),
    reference=st.floats(0.001, 0.2),
)
def test_attention_raises_noise_only_after_a_move_beyond_the_calm_volatility(
    r, attention, reference
):
    f = attention_factor(np.array([r]), attention, reference)[0]
    assert f >= 1.0
    if abs(r) <= reference:
        assert f == 1.0
    # monotone in the size of the move, whatever its sign
    assert attention_factor(np.array([2 * r]), attention, reference)[0] >= f
    assert attention_factor(np.array([-r]), attention, reference)[0] == f


def test_attention_scales_the_noise_of_every_trader_after_a_big_day():
    """With the price signals off, orders are the noise terms: after a day five calm standard
    deviations away, attention 1 makes them five times as large (1 + 1 x (5 - 1)), drawn from
    the same random numbers."""
    noisy = {
        "traders__idiosyncratic_noise": 0.01,
        "traders__fundamentalist_noise": 0.01,
        "traders__chartist_noise": 0.01,
        "traders__attention": 1.0,
    }
    calm_vol = small_config().market.vol_reference_daily
    orders = []
    for last in (0.0, 5 * calm_vol):
        pop, rng = _population(**noisy)
        pop.strategy[: pop.n // 2] = FUNDAMENTALIST
        pop.strategy[pop.n // 2 :] = CHARTIST
        orders.append(
            pop.decide(
                0, PRICE, np.log(PRICE), PolicyEffects.none(), rng, last_return=np.array([last])
            )
        )
    calm, loud = orders
    inside = (np.abs(calm) > 0) & (np.abs(loud) < 0.2 * pop.coins.max())  # no budget clipping
    assert inside.sum() > 10
    assert np.allclose(loud[inside], 5.0 * calm[inside])


def test_attention_is_per_coin_and_reads_each_coins_calm_volatility():
    """A big move in one coin raises the noise of that coin only; each coin's calm level is
    the reference scaled by its fundamental volatility (a DeFi token's ordinary day is not
    news), and a pegged coin keeps the reference."""
    from crypto401k.model import scenarios

    cfg = scenarios.load("four_assets").with_overrides({"traders.n_traders": 20})
    price = np.array([a.initial_price_usd for a in cfg.assets])
    pop = TraderPopulation(
        cfg, np.random.default_rng(0), price, price * 1e6, sp.csr_array((20, 20))
    )
    vols = np.array([a.fundamental_vol_annual for a in cfg.assets])
    ref = cfg.market.vol_reference_daily
    coins = vols > 0
    assert np.allclose(pop.calm_vol[coins], ref * vols[coins] / vols[0])
    assert np.all(pop.calm_vol[~coins] == ref)
    move = np.zeros(len(price))
    move[0] = 5 * pop.calm_vol[0]  # Bitcoin's big day
    loud = attention_factor(move, 1.0, pop.calm_vol)
    assert loud[0] == 5.0 and np.all(loud[1:] == 1.0)
    # a move that is news for Bitcoin is an ordinary day for a coin twice as volatile
    twice = int(np.argmax(vols))
    same = np.full(len(price), 1.5 * ref)
    assert (
        attention_factor(same, 1.0, pop.calm_vol)[twice]
        < attention_factor(same, 1.0, pop.calm_vol)[0]
    )


def test_the_model_feeds_yesterdays_return_to_the_traders():
    """Wiring: with attention on, the same seed gives another path once a day has moved
    beyond the calm level (model.py passes the market's last return to the traders)."""
    from crypto401k.model.model import Crypto401kModel

    cfg = small_config(run__steps=60, market__jump_rate_annual=0.0)

    def path(attention: float) -> np.ndarray:
        m = Crypto401kModel(cfg.with_overrides({"traders.attention": attention}), rng=5)
        m.run()
        return m.datacollector.get_model_vars_dataframe()["price"].to_numpy()

    quiet, loud = path(0.0), path(2.0)
    assert not np.array_equal(quiet, loud)
