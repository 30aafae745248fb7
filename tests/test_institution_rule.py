"""Institutions: leverage targeting, margin calls, loans and the default cascade."""

import numpy as np
from crypto401k.model.agents.institution import FUND, LENDER, InstitutionPopulation, leverage_order
from crypto401k.model.ledger import Ledger
from crypto401k.model.policy import PolicyEffects

from tests.conftest import small_config

PRICE = np.array([100.0])


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
    assert np.allclose(inst.leverage(PRICE)[funds], 2.0)
    assert (inst.cash >= 0).all()
    assert (inst.equity(PRICE) > 0).all()
    # every loan is someone's claim: claims + the outside's share = liabilities
    assert np.isclose(inst.claims().sum() + inst.loans[:, inst.n].sum(), inst.liabilities().sum())


def test_margin_call_in_the_population_restores_target_at_decision_price():
    inst = _population(institutions__adjust_speed=0.01)
    funds = np.flatnonzero(inst.kind == FUND)
    crash = PRICE * 0.8  # leverage 2 -> 0.8*2/(0.8*2-1) = 2.67 ... push above 3:
    crash = PRICE * 0.7  # 1.4 / 0.4 = 3.5 > 3
    orders = inst.decide(crash, PolicyEffects.none())
    value = (inst.coins[funds] + orders[funds]) @ crash
    assert np.allclose(value / inst.equity(crash)[funds], 2.0)


def test_default_passes_loss_to_creditors_pro_rata():
    inst = _population()
    fund = int(np.flatnonzero(inst.kind == FUND)[0])
    owed = inst.loans[fund].copy()
    creditors = np.flatnonzero(owed[: inst.n] > 0)
    equity_before = inst.equity(PRICE)
    crash = PRICE * 0.3  # the fund is now insolvent
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
    _, _, failed = inst.resolve_defaults(PRICE * 0.05)
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
