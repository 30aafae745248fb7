"""The saver's rule: payroll buying, target-date rebalancing, panic, retirement."""

import numpy as np
from crypto401k.model import scenarios
from crypto401k.model.agents.saver import (
    SaverPopulation,
    cap_buys,
    offer_share,
    panic_hazard,
)
from crypto401k.model.config import Config
from crypto401k.model.ledger import Ledger
from crypto401k.model.model import Crypto401kModel
from crypto401k.model.policy import PolicyEffects
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.array_rules import rebalance_target
from tests.conftest import readonly, small_config

PRICE = readonly([100.0])  # USD/coin, read-only as the market's prices


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
    pop = SaverPopulation(cfg, rng, employer, PRICE)
    # the cap in coins of a coin that trades at PRICE (the tests' world)
    caps = np.array([a.market_cap_usd for a in cfg.assets])
    pop.cap_coins = cfg.savers.max_float_share * caps / PRICE
    return pop, rng


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
    after_fall = pop.decide(0, readonly(PRICE * 0.5), 0.5, fear, effects, rng, ledger)
    assert (after_fall[:, 0] > 0).all()
    pop.cash[:] = 0.0
    pop.eligible[:] = 1e9
    after_rise = pop.decide(0, readonly(PRICE * 2.0), 0.0, fear, effects, rng, ledger)
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
    half = readonly(PRICE * 0.5)
    orders = pop.decide(0, half, 0.5, np.zeros(pop.n), PolicyEffects.none(), rng, Ledger())
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
        orders = pop.decide(0, readonly(PRICE * 0.5), 0.5, np.zeros(pop.n), effects, rng, Ledger())
        assert (orders <= 0).all()


def test_cap_makes_target_date_funds_sell_down_to_the_cap():
    pop, rng = _target_date_sleeve(0.05e9, 0.95e9)
    orders = pop.decide(
        0, PRICE, 0.0, np.zeros(pop.n), PolicyEffects(allocation_cap=0.01), rng, Ledger()
    )
    sleeve = 0.05e9 + 0.95e9 * (1 + pop.daily_growth)  # the other assets earned a day
    assert np.allclose(orders[:, 0] * 100.0, 0.01 * sleeve - 0.05e9)


# ---- who may buy: the offering share, its ramp, the uptake -------------------------------
@given(
    start=st.floats(0.0, 1.0),
    end=st.floats(0.0, 1.0),
    ramp=st.integers(0, 2000),
    open_day=st.integers(0, 1000),
    day=st.integers(0, 5000),
    ceiling=st.floats(0.0, 1.0),
)
def test_offer_share_ramps_linearly_between_start_and_end_under_the_rule(
    start, end, ramp, open_day, day, ceiling
):
    cfg = small_config(
        savers__offer_share_start=start, savers__offer_share_end=end, savers__offer_ramp_days=ramp
    ).savers
    share = offer_share(cfg, day, open_day, ceiling)
    assert offer_share(cfg, day, None, ceiling) == 0.0  # plans closed
    if day < open_day:
        assert share == 0.0
        return
    assert min(start, end, ceiling) - 1e-12 <= share <= min(max(start, end), ceiling) + 1e-12
    if day >= open_day + ramp:
        assert share == min(end, ceiling)
    elif ramp > 0:
        expected = start + (end - start) * (day - open_day) / ramp
        assert np.isclose(share, min(expected, ceiling))
    assert offer_share(cfg, open_day, open_day, 1.0) == (start if ramp > 0 else end)


def test_plans_adopt_along_the_ramp_and_keep_offering():
    pop, _ = _population(
        savers__n_cohorts=20_000,
        savers__offer_share_start=0.1,
        savers__offer_share_end=0.5,
        savers__offer_ramp_days=100,
    )
    shares = []
    for day in range(0, 201, 10):
        before = pop.offering.copy()
        pop.update_offer(day)
        shares.append(pop.offering.mean())
        assert (pop.offering >= before).all()  # a rising share adds plans, drops none
        assert (pop.first_offer[pop.offering] <= day).all()
        assert (pop.first_offer[~pop.offering] == -1).all()
    expected = [0.1 + 0.4 * min(1.0, d / 100) for d in range(0, 201, 10)]
    # binomial bounds: 4 standard deviations of a share of 20,000 cohorts
    assert np.allclose(shares, expected, atol=4 * np.sqrt(0.25 / 20_000))


def test_only_opted_in_cohorts_of_offering_plans_buy_on_payday():
    pop, rng = _population(
        savers__n_cohorts=4000,
        savers__allocation=0.05,
        savers__payday_sync=True,
        savers__target_date_share=0.0,
        savers__panic_rate_crash=0.0,
        savers__offer_share_start=0.4,
        savers__offer_share_end=0.4,
        savers__uptake=0.3,
    )
    pop.age[:] = 40.0
    ledger = Ledger()
    orders = pop.decide(0, PRICE, 0.0, np.zeros(pop.n), PolicyEffects.none(), rng, ledger)
    buying = pop.offering & pop.opted_in
    assert abs(pop.opted_in.mean() - 0.3) < 4 * np.sqrt(0.21 / 4000)
    assert abs(pop.offering.mean() - 0.4) < 4 * np.sqrt(0.24 / 4000)
    per_payday = pop.contribution * 14 / 365
    assert np.allclose(orders[buying, 0] * PRICE[0], 0.05 * per_payday[buying])
    assert (orders[~buying] == 0).all()  # everyone else saves, none of it in crypto
    assert np.isclose(ledger.payroll_in, per_payday.sum())  # all of them contribute


def test_reallocation_moves_only_opted_in_balances_from_their_plan_s_first_offer():
    pop, rng = _population(
        savers__n_cohorts=2000,
        savers__allocation=0.05,
        savers__channel="payroll+reallocation",
        savers__reallocation_start_day=5,
        savers__reallocation_days=10,
        savers__target_date_share=0.0,
        savers__panic_rate_crash=0.0,
        savers__offer_share_start=0.2,
        savers__offer_share_end=0.6,
        savers__offer_ramp_days=20,
        savers__uptake=0.5,
    )
    pop.age[:] = 40.0
    pop.pay_phase[:] = 1  # paydays on odd days: even days move balances only
    ledger, fear = Ledger(), np.zeros(pop.n)
    days = range(0, 40, 2)
    moved = np.zeros((len(days), pop.n))  # USD bought per even day, per cohort
    for day in range(0, 40):
        orders = pop.decide(day, PRICE, 0.0, fear, PolicyEffects.none(), rng, ledger)
        if day % 2 == 0:
            moved[day // 2] = orders[:, 0] * PRICE[0]
        pop.settle(orders, PRICE, ledger)
    assert (moved[:, ~pop.opted_in] == 0).all() and (moved[:, pop.first_offer < 0] == 0).all()
    late = pop.opted_in & (pop.first_offer > 0)
    assert (pop.opted_in & (pop.first_offer == 0)).any() and late.sum() > 10
    for row in np.flatnonzero(pop.opted_in & (pop.first_offer >= 0)):
        start = pop.first_offer[row] + 5  # its phase: 10 days from 5 days after the offer
        phase = np.array([start <= d < start + 10 for d in days])
        assert (moved[phase, row] > 0).all() and (moved[~phase, row] == 0).all(), row


# ---- nobody corners a coin ---------------------------------------------------------------
@given(
    n=st.integers(1, 30),
    assets=st.integers(1, 4),
    data=st.data(),
)
def test_capped_buys_never_take_holdings_past_the_cap(n, assets, data):
    floats = st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False)
    orders = np.array(data.draw(st.lists(floats, min_size=n * assets, max_size=n * assets)))
    orders = orders.reshape(n, assets)
    cap = np.array(
        data.draw(
            st.lists(st.floats(0, 1e7, allow_subnormal=False), min_size=assets, max_size=assets)
        )
    )
    held = np.array(
        data.draw(
            st.lists(st.floats(0, 2e7, allow_subnormal=False), min_size=assets, max_size=assets)
        )
    )
    capped = cap_buys(orders, held, cap)
    assert np.array_equal(capped[orders <= 0], orders[orders <= 0])  # sales untouched
    assert (capped >= 0).all() == (orders >= 0).all()
    # within rounding: relative 1e-12, and absolute 1e-300 coins for a room so small that its
    # scale factor is subnormal (a room of 2.2e-308 coins for 54,603 ordered: the factor has
    # a few bits left, so the bought total overshoots by its rounding, ~1e-319 coins)
    room_left = np.maximum(cap - held, 0)
    assert np.all(np.maximum(capped, 0).sum(axis=0) <= room_left * (1 + 1e-12) + 1e-300)
    assert np.all((capped <= orders + 1e-9) | (orders <= 0))  # only ever scaled down
    room = cap - held >= np.maximum(orders, 0).sum(axis=0)
    assert np.array_equal(capped[:, room], orders[:, room])  # untouched where there is room


# ---- the whole model: the plans' flow at its documented size, the cap ------------------
def test_plan_flow_matches_the_documented_sizing():
    """Net plan buying per day = contributions x allocation x offering share x uptake / 365
    (payroll alone, self-directed, no panic), within the sampling error of who offers and
    who opts in."""
    n, alloc, share, uptake = 4000, 0.05, 0.3, 0.5
    cfg = small_config(
        savers__n_cohorts=n,
        savers__allocation=alloc,
        savers__offer_share_start=share,
        savers__offer_share_end=share,
        savers__uptake=uptake,
        savers__target_date_share=0.0,
        savers__panic_rate_crash=0.0,
        savers__max_float_share=1.0,
        regulator__enabled=False,
        run__steps=364,  # 26 biweekly paydays for every cohort
    )
    m = Crypto401kModel(cfg, rng=3)
    m.run()
    flow = m.datacollector.get_model_vars_dataframe()["flow_savers"].to_numpy()[1:]
    expected = cfg.savers.contributions_usd_per_year * alloc * share * uptake / 365  # USD/day
    # the pay-weighted share of buying cohorts: relative sd sqrt((1-p)/(n p)) x the pay
    # weights' sqrt(E[w^2])/E[w] = exp(0.6^2/2); retiring cohorts sell (at most ~3%)
    p = share * uptake
    rel_sd = np.sqrt((1 - p) / (n * p)) * np.exp(0.6**2 / 2)
    assert abs(flow.mean() / expected - 1) < 4 * rel_sd + 0.03
    # exactly: the buying cohorts' payroll, at allocation, every payday
    s = m.savers
    buying_pay = s.contribution[s.offering & s.opted_in].sum()
    assert np.isclose(m.ledger.to_market, alloc * buying_pay * 364 / 365, rtol=0.01)
    assert s.offering.any() and not s.offering.all()


def _four(**overrides):
    base = {
        "savers.n_cohorts": 150,
        "savers.n_employers": 10,
        "traders.n_traders": 80,
        "institutions.n_funds": 3,
        "institutions.n_lenders": 2,
        "institutions.n_market_makers": 2,
        "savers.offer_share_start": 1.0,
        "savers.offer_share_end": 1.0,
        "savers.uptake": 1.0,
        "savers.channel": "payroll+reallocation",
        "savers.reallocation_start_day": 0,
        "savers.reallocation_days": 20,
    }
    return scenarios.load("four_assets").with_overrides({**base, **overrides})


@settings(max_examples=8, deadline=None)
@given(
    allocation=st.floats(0.01, 0.3),
    weights=st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4).filter(lambda w: sum(w) > 0.1),
    cap=st.floats(0.0005, 0.1),
    target_date=st.sampled_from([0.0, 0.83, 1.0]),
)
def test_the_plans_never_hold_more_than_the_cap_share_of_a_coin(
    allocation, weights, cap, target_date
):
    menu = [w / sum(weights) for w in weights]
    cfg = _four(
        **{
            "savers.allocation": allocation,
            "savers.menu": menu,
            "savers.max_float_share": cap,
            "savers.target_date_share": target_date,
        }
    )
    m = Crypto401kModel(cfg, rng=1)
    supply = m.market.supply
    for _ in range(40):
        m.step()
        assert np.all(m.savers.coins.sum(axis=0) <= cap * supply * (1 + 1e-12))


def test_the_cap_binds_where_the_plans_would_corner_a_small_coin():
    free = Crypto401kModel(_four(**{"savers.max_float_share": 1.0, "run.steps": 40}), rng=2)
    capped = Crypto401kModel(_four(**{"savers.max_float_share": 0.02, "run.steps": 40}), rng=2)
    free.run()
    capped.run()
    defi = 2  # BTC, ETH, DEFI, USDC
    share_free = free.savers.coins[:, defi].sum() / free.market.supply[defi]
    share_capped = capped.savers.coins[:, defi].sum() / capped.market.supply[defi]
    assert share_free > 0.05  # unbounded, the plans buy far more than 2% of the basket
    assert 0.019 < share_capped <= 0.02 * (1 + 1e-12)  # they stop at the cap (to rounding)
    # the dollars that found no coin stay in the plans: the books still balance
    books = capped.books()
    for name in ("cash", "coins", "plan_dollars"):
        assert np.allclose(books[name], books[f"{name}_expected"], rtol=1e-9), name
    assert capped.ledger.from_market > 0


def test_the_safe_harbour_opens_plans_and_their_offering_ramps_from_that_day():
    """The executive-order scenario: no plan offers before the DOL's safe harbour is in
    force; from then on the share follows the ramp, capped by the rule's share of plans."""
    rules = [{"name": "safe harbour", "agencies": ["DOL"], "instrument": "plan_access",
              "value": 0.8, "trigger": "order"}]  # fmt: skip
    cfg = small_config(
        savers__n_cohorts=3000,
        savers__allocation=0.03,
        savers__offer_share_start=0.1,
        savers__offer_share_end=1.0,
        savers__offer_ramp_days=200,
        savers__uptake=0.5,
        agencies__enabled=True,
        agencies__rules=rules,
        agencies__dol__propose_days=60,
        agencies__dol__comment_days=20,
        agencies__dol__final_days=20,
        run__steps=400,
    )
    m = Crypto401kModel(cfg, rng=4)
    m.run()
    df = m.datacollector.get_model_vars_dataframe()
    opens = m.board.first_effective("plan_access")
    assert opens == 100
    offering = df["plans_offering"].to_numpy()[1:]  # row k + 1: the end of day k
    flows = df["flow_savers"].to_numpy()[1:]
    assert (offering[:opens] == 0).all() and (flows[:opens] == 0).all()
    expected = np.array([offer_share(cfg.savers, d, opens, 0.8) for d in range(opens, 400)])
    assert np.allclose(offering[opens:], expected, atol=4 * np.sqrt(0.25 / 3000))
    assert offering[-1] <= 0.8 + 4 * np.sqrt(0.25 / 3000)  # the rule's share caps the ramp
    bought = m.savers.cost > 0
    assert bought.any() and not (bought & ~m.savers.opted_in).any()


def test_upper_bound_is_the_baseline_at_full_participation_without_a_cap():
    full = {
        "savers.offer_share_start": 1.0,
        "savers.offer_share_end": 1.0,
        "savers.uptake": 1.0,
        "savers.contributions_usd_per_year": 0.65e12,
        "savers.max_float_share": 1.0,
    }
    assert scenarios.load("upper_bound") == Config().with_overrides(full)
    # the defaults are the sourced sizes, not the upper bound
    s = Config().savers
    assert s.offer_share_start < 0.05 and s.uptake < 0.5 and s.max_float_share < 1.0
