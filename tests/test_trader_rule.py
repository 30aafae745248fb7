"""The retail trader's rule: strategies, budget, leverage and liquidation."""

import numpy as np
import scipy.sparse as sp
from crypto401k.model.agents.trader import (
    CHARTIST,
    FUNDAMENTALIST,
    NOISE,
    TraderPopulation,
    budget_clip,
    needs_liquidation,
)
from crypto401k.model.policy import PolicyEffects

from tests.conftest import small_config

PRICE = np.array([100.0])


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
    written_off = pop.settle(orders, PRICE * 0.9)  # sold at 90: equity -6 each
    assert np.isclose(written_off, 60.0)
    assert (pop.cash == 0).all() and (pop.coins == 0).all()
    assert pop.liquidations == 10 and pop.fear(6).all()


def test_regulator_leverage_cap_binds():
    pop, rng = _population(
        n=10,
        traders__leverage_share=1.0,
        traders__max_leverage=10.0,
        traders__fundamentalist_reaction=100.0,
    )
    pop.strategy[:] = FUNDAMENTALIST
    orders = pop.decide(0, PRICE, np.log(PRICE * 3), PolicyEffects(leverage_cap=2.0), rng)
    pop.settle(orders, PRICE)
    weight = pop.coins[:, 0] * PRICE[0] / pop.equity(PRICE)
    assert weight.max() <= 2.0 + 1e-9
