"""Price formation: impact, transient decay, depth, circuit breaker, fundamentals."""

import numpy as np
from crypto401k.model.config import Config
from crypto401k.model.market import Market


def _market(**overrides):
    cfg = Config().with_overrides(overrides)
    return Market(cfg, np.random.default_rng(0))


def test_linear_impact_is_the_inelastic_markets_multiplier():
    m = _market(**{"market.impact_multiplier": 5.0})
    coins = m.supply * 0.001  # buy 0.1% of supply
    before = m.log_price.copy()
    m.clear(coins, mm_capacity=1.0, breaker=None)
    assert np.allclose(m.log_price - before, 5.0 * 0.001)


def test_buying_raises_and_selling_lowers_price():
    m = _market()
    p0 = m.price.copy()
    m.clear(m.supply * 1e-3, 1.0, None)
    assert m.price[0] > p0[0]
    m.clear(-m.supply * 3e-3, 1.0, None)
    assert m.price[0] < p0[0]


def test_transient_impact_decays_and_permanent_does_not():
    perm = _market(**{"market.impact_permanent_share": 1.0})
    trans = _market(**{"market.impact_permanent_share": 0.0, "market.impact_halflife_days": 5.0})
    for m in (perm, trans):
        m.clear(m.supply * 1e-3, 1.0, None)
    jump_perm, jump_trans = perm.log_price.copy(), trans.log_price.copy()
    for _ in range(5):
        for m in (perm, trans):
            m.clear(np.zeros(1), 1.0, None)
    p0 = np.log(110_000.0)
    assert np.isclose(perm.log_price[0], jump_perm[0])
    assert np.isclose(trans.log_price[0] - p0, (jump_trans[0] - p0) / 2)


def test_depth_thins_with_volatility_and_market_maker_losses():
    m = _market(**{"market.market_maker_depth_share": 0.5})
    calm = m.depth_factor(1.0)[0]
    m.vol[:] = 3 * m.cfg.vol_reference_daily
    stressed = m.depth_factor(1.0)[0]
    broke = m.depth_factor(0.0)[0]
    assert np.isclose(calm, 1.0) and stressed < calm and np.isclose(broke, 0.5)


def test_circuit_breaker_caps_the_move_and_scales_orders():
    m = _market()
    before = m.log_price.copy()
    clearing = m.clear(m.supply * 0.1, 1.0, breaker=0.1)  # unhalted move would be 0.5
    assert clearing.halted
    assert np.isclose(m.log_price[0] - before[0], 0.1)
    assert np.isclose(clearing.scale[0], 0.2)


def test_sqrt_law_is_concave_in_flow():
    m = _market(**{"market.impact_law": "sqrt"})
    small = m.impact(m.supply * 1e-4, np.ones(1))[0]
    large = m.impact(m.supply * 4e-4, np.ones(1))[0]
    assert np.isclose(large / small, 2.0)


def test_fundamental_drop_moves_quotes_at_once():
    m = _market(**{"assets.0.fundamental_vol_annual": 0.0})
    before = m.price[0]
    m.step_fundamental(drop=0.5)
    assert np.isclose(m.price[0], before * 0.5)
    assert np.isclose(m.fundamental[0], 110_000.0 * 0.5)


def test_counterparty_shares_sum_to_one():
    m = _market()
    cap = np.array([0.0, 0.3, 0.7])
    mm, outside = m.counterparty_shares(cap)
    assert np.allclose(mm.sum(axis=0) + outside, 1.0)
    assert mm[0, 0] == 0.0
