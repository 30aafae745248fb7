"""The fiscal ledger's arithmetic (model/fiscal.py): a closed-form present value to the cent,
and the textbook equivalence of traditional and Roth accounts."""

import numpy as np
import pytest
from crypto401k.model import fiscal
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays


def _traditional_pv(c, years, retire, g, d, tax, payout=1):
    """Each year's contribution, projected to retirement and taxed on withdrawal."""
    k = np.arange(years, dtype=float)
    return fiscal.projected_withdrawal_tax_pv(
        np.full(years, c), np.zeros(years), retire - k,
        growth=g, tax_rate=np.full(years, tax), discount=d, payout_years=payout, now=k,
    ).sum()  # fmt: skip


def test_no_crypto_fixed_return_matches_the_closed_form_to_the_cent():
    c, years, retire, g, d, tax = 10_000.0, 30, 40, 0.05, 0.03, 0.22
    # one withdrawal at retirement of sum_k c (1+g)^(R-k), taxed at `tax`, discounted R years
    closed = tax * c * ((1 + g) / (1 + d)) ** retire * (1 - (1 + g) ** -years) / (1 - 1 / (1 + g))
    assert _traditional_pv(c, years, retire, g, d, tax) == pytest.approx(closed, abs=0.005)
    # Roth: the tax is collected on each contribution when it is made
    roth_now, forgone = fiscal.contribution_tax(np.full(years, c), np.ones(years), tax)
    assert forgone.sum() == 0.0
    roth_closed = tax * c * (1 - (1 + d) ** -years) / (1 - 1 / (1 + d))
    assert fiscal.revenue_pv(roth_now, d) == pytest.approx(roth_closed, abs=0.005)


@settings(max_examples=60, deadline=None)
@given(
    c=st.floats(100, 1e6),
    years=st.integers(1, 40),
    extra=st.integers(0, 30),
    g=st.floats(0.0, 0.12),
    tax=st.floats(0.0, 0.5),
    payout=st.integers(1, 30),
)
def test_traditional_and_roth_give_the_same_pv_at_equal_rates_discounting_at_the_return(
    c, years, extra, g, tax, payout
):
    retire = years + extra
    traditional = _traditional_pv(c, years, retire, g, g, tax, payout)
    roth_now, _ = fiscal.contribution_tax(np.full(years, c), np.ones(years), tax)
    roth = fiscal.revenue_pv(roth_now, g)
    assert traditional == pytest.approx(roth, rel=1e-9, abs=1e-6)


def test_a_crypto_loss_in_traditional_accounts_lowers_revenue_roth_does_not():
    kw = dict(years_to_retirement=np.array([20.0]), growth=0.05, tax_rate=np.array([0.24]),
              discount=0.03, payout_years=20)  # fmt: skip
    base, lost = (
        fiscal.projected_withdrawal_tax_pv(np.array([b]), np.array([0.0]), **kw)[0]
        for b in (100_000.0, 70_000.0)
    )
    assert lost == pytest.approx(0.7 * base) and lost < base
    roth = fiscal.projected_withdrawal_tax_pv(np.array([70_000.0]), np.array([1.0]), **kw)
    assert roth[0] == 0.0


def test_payout_years_must_be_positive():
    with pytest.raises(ValueError, match="payout_years = 0"):
        fiscal.projected_withdrawal_tax_pv(
            np.ones(1), np.zeros(1), np.ones(1), growth=0.0, tax_rate=np.ones(1),
            discount=0.0, payout_years=0,
        )  # fmt: skip


@given(
    st.integers(0, 40).flatmap(
        lambda n: st.tuples(
            arrays(np.float64, n, elements=st.sampled_from([0.0, 1.5, 250.0, 1e-300, np.nan])),
            arrays(np.float64, n, elements=st.floats(0.0, 1.0)),
            arrays(np.float64, n, elements=st.floats(0.0, 0.5)),
        )
    )
)
def test_the_compiled_contribution_step_is_numpy_s(args):
    """`contribute`'s one pass gives what numpy's array steps gave: the shadow balances, and
    the two taxes' sums, bit for bit; nothing booked on a day without contributions."""
    contribution, roth, rate = args
    shadow = np.linspace(0.0, 1e5, len(contribution))
    mine = shadow.copy()
    paid, roth_sum, forgone_sum = fiscal._contribute(mine, contribution, roth, rate)
    assert np.array_equal(mine, shadow + contribution, equal_nan=True)
    assert paid == bool(contribution.any())
    if paid:
        roth_tax, forgone = fiscal.contribution_tax(contribution, roth, rate)
        assert np.array_equal(
            [roth_sum, forgone_sum], [roth_tax.sum(), forgone.sum()], equal_nan=True
        )
