"""Institutions: leverage targeting, margin calls, loans and the default cascade."""

import numpy as np
from crypto401k.model.agents.institution import (
    FUND,
    LENDER,
    MARKET_MAKER,
    InstitutionPopulation,
    leverage_order,
    margin_factor,
)
from crypto401k.model.ledger import Ledger
from crypto401k.model.policy import PolicyEffects

from tests.conftest import readonly, small_config

PRICE = readonly([100.0])  # USD/coin, read-only as the market's prices


def test_margin_call_sells_exactly_what_restores_the_target():
    value = np.array([350.0])  # leverage 3.5 with equity 100: above the limit of 3
    equity = np.array([100.0])
    delta = leverage_order(value, equity, np.array([2.0]), np.array([3.0]), speed=0.2)
    # selling at an unchanged price leaves equity unchanged and leverage at target
    assert np.isclose((value + delta) / equity, 2.0)


def test_within_limit_a_fund_closes_part_of_the_gap():
    delta = leverage_order(
        np.array([250.0]), np.array([100.0]), np.array([2.0]), np.array([3.0]), speed=0.2
    )
    assert np.isclose(delta, 0.2 * (200.0 - 250.0))


def test_rising_prices_make_leverage_targeters_buy():
    delta = leverage_order(
        np.array([150.0]), np.array([100.0]), np.array([2.0]), np.array([3.0]), speed=1.0
    )
    assert delta[0] > 0


def test_insolvent_fund_sells_everything():
    delta = leverage_order(
        np.array([100.0]), np.array([-5.0]), np.array([2.0]), np.array([3.0]), speed=0.2
    )
    assert delta[0] == -100.0


def _population(**overrides):
    cfg = small_config(**overrides)
    return InstitutionPopulation(cfg, np.random.default_rng(5), PRICE, PRICE * 1e6)


def test_initial_balance_sheets():
    inst = _population()
    funds = inst.kind == FUND
    lev = inst.leverage(PRICE)[funds]
    # funds start levered, below their own targets, and the targets differ
    assert (lev >= 1.0).all() and (lev <= inst.leverage_target[funds] + 1e-12).all()
    assert len(np.unique(inst.leverage_target[funds])) == funds.sum()
    assert (inst.leverage_max[funds] > inst.leverage_target[funds]).all()
    assert (inst.cash >= 0).all()
    assert (inst.equity(PRICE) > 0).all()
    # every loan is someone's claim: claims + the outside's share = liabilities
    assert np.isclose(inst.claims().sum() + inst.loans[:, inst.n].sum(), inst.liabilities().sum())


def test_margin_call_in_the_population_restores_target_at_decision_price():
    inst = _population(institutions__adjust_speed=0.01)
    funds = np.flatnonzero(inst.kind == FUND)
    crash = readonly(PRICE * 0.75)
    called = inst.leverage(crash)[funds] > inst.leverage_max[funds]
    assert called.any() and not called.all()  # heterogeneous limits: only some are called
    orders = inst.decide(crash, PolicyEffects.none(), inst.calm_vol)  # calm: full margins
    value = (inst.coins[funds] + orders[funds]) @ crash
    lev_after = value / inst.equity(crash)[funds]
    assert np.allclose(lev_after[called], inst.leverage_target[funds][called])


def test_default_passes_loss_to_creditors_pro_rata():
    inst = _population()
    fund = int(np.flatnonzero(inst.kind == FUND)[0])
    owed = inst.loans[fund].copy()
    creditors = np.flatnonzero(owed[: inst.n] > 0)
    equity_before = inst.equity(PRICE)
    crash = readonly(PRICE * 0.3)  # the fund is now insolvent
    assets = float(inst.coins[fund] @ crash + inst.cash[fund])
    recovery = assets / owed.sum()
    assert recovery < 1
    cash_total = inst.cash.sum()
    _, out_cash = inst.fail(fund, crash)
    assert not inst.alive[fund]
    assert inst.loans[fund].sum() == 0 and inst.coins[fund].sum() == 0
    # cash only moved (to creditors and the outside)
    assert np.isclose(inst.cash.sum() + out_cash, cash_total)
    for j in creditors:
        # each creditor's claim was replaced by its share of the assets: loss = (1-R)*claim,
        # valued at the crash price (its own coins also lost value, measured separately)
        own_coins_loss = float(inst.coins[j] @ (PRICE - crash)) if inst.kind[j] != LENDER else 0
        change = inst.equity(crash)[j] - (equity_before[j] - own_coins_loss)
        assert np.isclose(change, -(1 - recovery) * owed[j], rtol=1e-6)


def test_cascade_through_leveraged_lenders():
    inst = _population(
        institutions__lender_leverage=50.0,
        institutions__n_lenders=1,
        institutions__fund_equity_share=0.5,
    )
    _, _, failed = inst.resolve_defaults(readonly(PRICE * 0.05))
    kinds = inst.kind[failed]
    assert (kinds == FUND).any() and (kinds == LENDER).any()
    assert inst.defaults == len(failed)


def test_credit_draw_and_repay_conserve_cash():
    inst = _population()
    total = inst.cash.sum()
    inst.cash[0] -= 1000.0  # a fund overspends
    from_outside = inst.draw_credit()
    assert (inst.cash >= 0).all()
    assert np.isclose(inst.cash.sum() + from_outside, total - 1000.0)
    inst.cash[0] += 500.0
    before = inst.cash.sum()
    paid_out = inst.repay()
    assert np.isclose(inst.cash.sum() + paid_out, before)


def test_fraud_loss_is_booked():
    inst = _population()
    ledger = Ledger(lost_coins=np.zeros(1))
    coins = inst.coins[0].copy()
    inst.lose(0, 0.5, ledger)
    assert np.allclose(ledger.lost_coins, 0.5 * coins)
    assert np.allclose(inst.coins[0], 0.5 * coins)


def test_margins_tighten_only_when_volatility_rises_above_calm():
    calm = np.array([0.04, 0.06])
    w = np.array([0.7, 0.3])
    assert margin_factor(calm, calm, w, 0.5) == 1.0
    assert margin_factor(0.5 * calm, calm, w, 0.5) == 1.0  # never looser than normal
    assert np.isclose(margin_factor(4.0 * calm, calm, w, 0.5), 0.5)  # VaR: 1/sqrt(4)
    assert margin_factor(4.0 * calm, calm, w, 0.0) == 1.0  # switched off


def test_stressed_lenders_make_funds_deleverage():
    inst = _population()
    funds = np.flatnonzero(inst.kind == FUND)
    calm = inst.decide(PRICE, PolicyEffects.none(), inst.calm_vol)[funds]
    stressed = inst.decide(PRICE, PolicyEffects.none(), 9.0 * inst.calm_vol)[funds]
    assert (stressed.sum(axis=1) <= calm.sum(axis=1)).all()
    assert (stressed < 0).any()  # some funds are now above their (smaller) limit


def test_credit_is_finite_funds_cannot_buy_beyond_what_lenders_have():
    inst = _population()
    funds = np.flatnonzero(inst.kind == FUND)
    lenders = inst.kind == LENDER
    power = inst.buying_power(funds)
    assert power.sum() <= np.maximum(inst.cash[funds], 0).sum() + inst.cash[lenders].sum() + 1e-6
    inst.cash[lenders] = 0.0  # the lenders have lent all they had
    assert np.allclose(inst.buying_power(funds), np.maximum(inst.cash[funds], 0.0))
    # a boom that would make every fund buy: orders are cut to the funds' own cash
    orders = inst.decide(readonly(PRICE * 3.0), PolicyEffects.none(), inst.calm_vol)
    spend = np.maximum(orders[funds], 0.0) @ (PRICE * 3.0)
    assert (spend <= np.maximum(inst.cash[funds], 0.0) + 1e-9).all()


def test_a_draw_never_takes_more_than_a_lender_has():
    inst = _population()
    lenders = np.flatnonzero(inst.kind == LENDER)
    funds = np.flatnonzero(inst.kind == FUND)
    inst.cash[funds] -= 10.0 * inst.cash[lenders].sum()  # far beyond what lenders hold
    total = inst.cash.sum()
    from_outside = inst.draw_credit()
    assert (inst.cash[lenders] >= -1e-9).all() and (inst.cash >= -1e-9).all()
    assert from_outside > 0  # only the residual falls to the outside
    assert np.isclose(inst.cash.sum(), total + from_outside)


def test_an_entrant_is_sized_to_the_market_it_enters_with_fresh_traits():
    inst = _population(institutions__reentry_days=1)
    rng = np.random.default_rng(0)
    fund = int(np.flatnonzero(inst.kind == FUND)[0])
    mm = int(np.flatnonzero(inst.kind == MARKET_MAKER)[0])
    target_before = inst.leverage_target[fund]
    for i in (fund, mm):
        inst.fail(i, PRICE)
    crashed = readonly(PRICE * 0.2)  # the market is a fifth of its day-0 size
    put_in = inst.reenter(crashed, 0.2 * inst.cap0, rng)  # dead for 1 day: replaced
    assert inst.alive[fund] and inst.alive[mm] and put_in > 0
    share = inst.cfg.entry_equity_share * 0.2
    assert np.isclose(inst.equity(crashed)[fund], share * inst.equity0[fund])
    assert np.isclose(inst.equity(crashed)[mm], share * inst.equity0[mm])
    assert inst.leverage_target[fund] != target_before
    # the market maker aims for an inventory worth its weight at today's price
    target_value = inst.mm_target_coins[mm] @ crashed
    assert np.isclose(target_value, inst.cfg.mm_inventory_weight * share * inst.equity0[mm])


def test_a_fund_that_lost_most_of_its_equity_closes_and_repays_its_creditors():
    inst = _population()
    fund = int(np.flatnonzero(inst.kind == FUND)[0])
    owed = inst.loans[fund, : inst.n].copy()
    claims_before = inst.claims()
    # a fall that leaves it solvent but below the exit share of its starting equity
    lev = inst.leverage(PRICE)[fund]
    keep = 0.5 * inst.cfg.fund_exit_equity  # equity falls to this share of the start
    crash = readonly(PRICE * (1.0 - (1.0 - keep) / lev))
    assert 0 < inst.equity(crash)[fund] < inst.cfg.fund_exit_equity * inst.equity_ref[fund]
    cash_before = inst.cash.copy()
    _, _, closed = inst.close_small(crash)
    assert fund in closed and not inst.alive[fund]
    assert inst.defaults == 0 and inst.closures >= 1
    # each creditor got back exactly what it was owed (in coins at the crash price and cash)
    creditors = np.flatnonzero(owed > 0)
    assert len(creditors) and (inst.kind[creditors] == LENDER).all()
    for j in creditors:  # lenders hold no coins of their own
        got = (inst.cash[j] - cash_before[j]) + float(inst.coins[j] @ crash)
        assert np.isclose(got, owed[j], rtol=1e-9)
        assert np.isclose(claims_before[j] - inst.claims()[j], owed[j], rtol=1e-9)


def test_a_market_maker_pays_out_what_it_earns_above_its_target():
    inst = _population()
    mm = int(np.flatnonzero(inst.kind == MARKET_MAKER)[0])
    cap = inst.cap0
    target = inst.mm_target(cap)[mm]
    assert np.isclose(inst.equity(PRICE)[mm], target)  # day 0: at its target
    gain = 0.3 * target
    inst.cash[mm] += gain  # a spread earned in cash
    before = inst.cash.copy()
    paid = inst.pay_out(PRICE, cap)
    assert np.isclose(paid, gain)
    assert np.isclose(inst.equity(PRICE)[mm], target)
    # only market makers pay out, and only what left their cash
    assert np.isclose((before - inst.cash).sum(), paid)
    assert np.allclose(np.delete(before - inst.cash, np.flatnonzero(inst.kind == MARKET_MAKER)), 0)
    assert inst.pay_out(PRICE, cap) == 0.0  # nothing more above the target


def test_a_market_maker_keeps_its_cash_buffer_when_paying_out():
    inst = _population()
    mm = int(np.flatnonzero(inst.kind == MARKET_MAKER)[0])
    cap = inst.cap0
    target = inst.mm_target(cap)[mm]
    # its inventory doubled in value: equity above target, but the gain is in coins
    doubled = readonly(PRICE * 2.0)
    assert inst.equity(doubled)[mm] > target
    buffer = (1.0 - inst.cfg.mm_inventory_weight) * target
    assert inst.cash[mm] <= buffer * (1 + 1e-12)
    assert inst.pay_out(doubled, cap) == 0.0  # inventory is not sold to pay owners


def test_market_makers_capacity_is_scale_free_and_at_most_their_target():
    inst = _population()
    cap = inst.cap0
    mms = inst.kind == MARKET_MAKER
    assert np.isclose(inst.mm_capacity(PRICE, cap).sum(), 1.0)
    # the whole market (and every market maker's balance sheet) worth twice as much in USD:
    # the same capacity in coins
    inst.cash *= 2.0
    inst.coins *= 1.0  # same coins, at twice the price
    inst.loans *= 2.0
    assert np.isclose(inst.mm_capacity(readonly(PRICE * 2.0), 2.0 * cap).sum(), 1.0)
    # a market maker above its target quotes with its target only
    inst.cash[np.flatnonzero(mms)[0]] *= 10.0
    assert np.isclose(inst.mm_capacity(readonly(PRICE * 2.0), 2.0 * cap).sum(), 1.0)


def test_a_market_maker_past_its_loss_limit_closes():
    inst = _population()
    mm = int(np.flatnonzero(inst.kind == MARKET_MAKER)[0])
    limit = inst.cfg.mm_withdraw_equity * inst.equity_peak[mm]
    inst.cash[mm] -= inst.equity(PRICE)[mm] - 0.9 * limit  # lost down to 90% of its limit
    assert 0 < inst.equity(PRICE)[mm] < limit
    _, _, closed = inst.close_small(PRICE)
    assert mm in closed and not inst.alive[mm]
    assert inst.mm_capacity(PRICE, inst.cap0)[mm] == 0.0
