"""The saver's rule: payroll buying, target-date rebalancing, panic, retirement."""

import numpy as np
from crypto401k.model.agents.saver import SaverPopulation, panic_hazard, rebalance_target
from crypto401k.model.ledger import Ledger
from crypto401k.model.policy import PolicyEffects

from tests.conftest import small_config

PRICE = np.array([100.0])


# every plan offers crypto and every participant opts in, no concentration cap: the rule itself
EVERYONE = {
    "savers__offer_share_start": 1.0,
    "savers__offer_share_end": 1.0,
    "savers__uptake": 1.0,
    "savers__max_float_share": 1.0,
}


def _population(**overrides):
    cfg = small_config(**{**EVERYONE, **overrides})
    rng = np.random.default_rng(1)
    employer = rng.integers(0, cfg.savers.n_employers, cfg.savers.n_cohorts)
    return SaverPopulation(cfg, rng, employer, PRICE), rng


def test_rebalance_target_is_contrarian():
    """A target-date sleeve buys after a fall and sells after a rise."""
    weight = np.array([0.05])
    eligible = np.array([95.0])
    value_before = np.array([5.0])  # on target: 5 / (5 + 95)
    assert np.isclose(rebalance_target(value_before, eligible, weight), value_before)
    fallen = value_before * 0.5
    risen = value_before * 2.0
    assert rebalance_target(fallen, eligible, weight) > fallen  # buys the dip
    assert rebalance_target(risen, eligible, weight) < risen  # sells the rally


def _target_date_sleeve(crypto_usd: float, eligible_usd: float):
    """Target-date savers at 5% allocation who rebalance daily, no panic and no payday on day
    0, each holding `crypto_usd` of crypto (price 100) and `eligible_usd` in the sleeve."""
    pop, rng = _population(
        savers__allocation=0.05,
        savers__target_date_share=1.0,
        savers__rebalance_interval_days=1,
        savers__panic_rate_crash=0.0,
    )
    pop.other[:] = 1e10
    pop.eligible[:] = eligible_usd
    pop.coins[:, 0] = crypto_usd / 100.0
    pop.age[:] = 40.0
    pop.pay_phase[:] = 1
    return pop, rng


def test_target_date_savers_buy_after_fall_and_sell_after_rise():
    pop, rng = _target_date_sleeve(0.05 / 0.95 * 1e9, 1e9)  # on target
    ledger = Ledger()
    fear = np.zeros(pop.n)
    effects = PolicyEffects.none()
    after_fall = pop.decide(0, PRICE * 0.5, 0.5, fear, effects, rng, ledger)
    assert (after_fall[:, 0] > 0).all()
    pop.cash[:] = 0.0
    pop.eligible[:] = 1e9
    after_rise = pop.decide(0, PRICE * 2.0, 0.0, fear, effects, rng, ledger)
    assert (after_rise[:, 0] < 0).all()


def test_self_directed_savers_do_not_rebalance():
    pop, rng = _population(
        savers__allocation=0.05,
        savers__target_date_share=0.0,
        savers__rebalance_interval_days=1,
        savers__panic_rate_crash=0.0,
    )
    pop.coins[:, 0] = 10.0
    pop.eligible[:] = 1e9
    pop.age[:] = 40.0
    pop.pay_phase[:] = 1
    orders = pop.decide(0, PRICE * 0.5, 0.5, np.zeros(pop.n), PolicyEffects.none(), rng, Ledger())
    assert (orders == 0).all()


def test_payday_buys_allocation_times_contribution():
    pop, rng = _population(
        savers__allocation=0.03,
        savers__payday_sync=True,
        savers__target_date_share=0.0,
        savers__panic_rate_crash=0.0,
    )
    pop.age[:] = 40.0
    ledger = Ledger()
    orders = pop.decide(0, PRICE, 0.0, np.zeros(pop.n), PolicyEffects.none(), rng, ledger)
    per_payday = pop.contribution * 14 / 365
    assert np.allclose(orders[:, 0] * PRICE[0], 0.03 * per_payday)
    assert np.isclose(ledger.payroll_in, per_payday.sum())
    assert np.isclose(ledger.to_market, 0.03 * per_payday.sum())
    # no payday the next day with synchronized biweekly pay
    pop.settle(orders, PRICE, ledger)
    orders = pop.decide(1, PRICE, 0.0, np.zeros(pop.n), PolicyEffects.none(), rng, ledger)
    assert (orders == 0).all()


def test_freeze_stops_crypto_buying_and_cap_limits_it():
    pop, rng = _population(
        savers__allocation=0.05,
        savers__payday_sync=True,
        savers__target_date_share=0.0,
        savers__panic_rate_crash=0.0,
    )
    pop.age[:] = 40.0
    frozen = pop.decide(0, PRICE, 0.0, np.zeros(pop.n), PolicyEffects(freeze=True), rng, Ledger())
    assert (frozen == 0).all()
    pop.cash[:] = 0
    capped = pop.decide(
        0, PRICE, 0.0, np.zeros(pop.n), PolicyEffects(allocation_cap=0.01), rng, Ledger()
    )
    per_payday = pop.contribution * 14 / 365
    assert np.allclose(capped[:, 0] * PRICE[0], 0.01 * per_payday)


def test_panic_hazard_rises_with_drawdown_and_fear_and_is_lower_for_target_date():
    td = np.array([False, True])
    calm = panic_hazard(0.0, td, np.zeros(2), 0.144, 0.5, 0.2, 2.0)
    crash = panic_hazard(0.5, td, np.zeros(2), 0.144, 0.5, 0.2, 2.0)
    scared = panic_hazard(0.5, td, np.ones(2), 0.144, 0.5, 0.2, 2.0)
    assert (calm == 0).all()
    assert (crash > 0).all() and (scared > crash).all()
    assert np.isclose(crash[1] / crash[0], 0.2, rtol=1e-3)
    assert np.isclose(crash[0], 1 - np.exp(-0.144 / 365))


def test_panicked_savers_sell_and_stop_buying():
    pop, rng = _population(
        savers__allocation=0.05,
        savers__panic_rate_crash=50.0,
        savers__panic_sell_fraction=0.5,
        savers__payday_sync=True,
        savers__target_date_share=0.0,
    )
    pop.coins[:, 0] = 10.0
    pop.age[:] = 40.0
    orders = pop.decide(0, PRICE, 1.0, np.ones(pop.n), PolicyEffects.none(), rng, Ledger())
    panicked = pop.panicked
    assert panicked.mean() > 0.05
    assert np.allclose(orders[panicked, 0], -5.0)  # sold half, bought nothing on payday


def test_retiring_cohort_sells_everything_withdraws_and_is_replaced():
    pop, rng = _population(savers__allocation=0.05)
    pop.coins[:, 0] = 3.0
    pop.age[:] = 40.0
    pop.age[0] = 64.999
    ledger = Ledger()
    orders = pop.decide(0, PRICE, 0.0, np.zeros(pop.n), PolicyEffects.none(), rng, ledger)
    assert orders[0, 0] == -3.0
    balance = pop.other[0] + 3.0 * PRICE[0]
    pop.settle(orders, PRICE, ledger)
    assert pop.coins[0, 0] == 0.0 and pop.other[0] == 0.0
    assert pop.age[0] == pop.cfg.entry_age
    assert np.isclose(ledger.withdrawals_out, balance)


def test_warning_and_freeze_stop_new_money_but_do_not_make_target_date_funds_sell():
    from crypto401k.model.policy import PolicyEffects as Fx

    for effects in (Fx(allocation_factor=0.5), Fx(allocation_factor=0.5, freeze=True)):
        pop, rng = _target_date_sleeve(0.05 / 0.95 * 1e9, 1e9)  # on target
        orders = pop.decide(0, PRICE, 0.0, np.zeros(pop.n), effects, rng, Ledger())
        assert np.allclose(orders, 0.0)
        # after a fall, still no buying of the dip with new money
        orders = pop.decide(0, PRICE * 0.5, 0.5, np.zeros(pop.n), effects, rng, Ledger())
        assert (orders <= 0).all()


def test_cap_makes_target_date_funds_sell_down_to_the_cap():
    pop, rng = _target_date_sleeve(0.05e9, 0.95e9)
    orders = pop.decide(
        0, PRICE, 0.0, np.zeros(pop.n), PolicyEffects(allocation_cap=0.01), rng, Ledger()
    )
    sleeve = 0.05e9 + 0.95e9 * (1 + pop.daily_growth)  # the other assets earned a day
    assert np.allclose(orders[:, 0] * 100.0, 0.01 * sleeve - 0.05e9)
