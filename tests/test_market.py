"""Price formation: impact, transient decay, depth, circuit breaker, fundamentals."""

import numpy as np
import pytest
from crypto401k.model.config import Config
from crypto401k.model.market import Market
from hypothesis import given
from hypothesis import strategies as st


def _market(**overrides):
    cfg = Config().with_overrides(overrides)
    return Market(cfg, np.random.default_rng(0))


def test_linear_impact_is_the_inelastic_markets_multiplier():
    m = _market(**{"market.impact_multiplier": 5.0})
    coins = m.supply * 0.001  # buy 0.1% of supply
    before = m.log_price.copy()
    m.clear(coins, m.depth_factor(1.0), breaker=None)
    assert np.allclose(m.log_price - before, 5.0 * 0.001)


def test_buying_raises_and_selling_lowers_price():
    m = _market()
    p0 = m.price.copy()
    m.clear(m.supply * 1e-3, m.depth_factor(1.0), None)
    assert m.price[0] > p0[0]
    m.clear(-m.supply * 3e-3, m.depth_factor(1.0), None)
    assert m.price[0] < p0[0]


def test_transient_impact_decays_and_permanent_does_not():
    perm = _market(**{"market.impact_permanent_share": 1.0})
    trans = _market(**{"market.impact_permanent_share": 0.0, "market.impact_halflife_days": 5.0})
    for m in (perm, trans):
        m.clear(m.supply * 1e-3, m.depth_factor(1.0), None)
    jump_perm, jump_trans = perm.log_price.copy(), trans.log_price.copy()
    for _ in range(5):
        for m in (perm, trans):
            m.clear(np.zeros(1), m.depth_factor(1.0), None)
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


def test_each_coin_s_depth_thins_beyond_its_own_calm_volatility():
    """A coin whose news is twice as volatile is calm at twice the volatility (the depth's
    stress, the square-root law's sigma), as for the traders' attention and the margins."""
    from crypto401k.model import scenarios
    from crypto401k.model.market import calm_daily_vol

    cfg = scenarios.load("four_assets")
    m = Market(cfg, np.random.default_rng(0))
    calm = calm_daily_vol(cfg)
    coins = ~m.pegged
    assert np.array_equal(m.calm_vol[coins], calm[coins]) and calm[1] != calm[0]
    assert m.calm_vol[0] == cfg.market.vol_reference_daily  # Bitcoin's is the reference
    assert np.array_equal(m.vol, m.calm_vol)  # calm before any return is recorded
    m.vol = m.calm_vol.copy()
    assert np.array_equal(m.stress(), np.ones(m.n))
    gamma = cfg.market.depth_stress_sensitivity
    m.vol = 3.0 * m.calm_vol
    assert np.allclose(m.stress(), 1.0 + 2.0 * gamma)  # the same excess for every coin
    sqrt = Market(cfg.with_overrides({"market.impact_law": "sqrt"}), np.random.default_rng(0))
    move = sqrt.impact(sqrt.supply * 1e-4, np.ones(sqrt.n))
    expected = cfg.market.sqrt_impact_coefficient * sqrt.calm_vol * np.sqrt(1e-4 / sqrt.turnover)
    assert np.allclose(move[coins], expected[coins])


def test_circuit_breaker_caps_the_move_and_scales_orders():
    m = _market(**{"market.impact_multiplier": 5.0})
    before = m.log_price.copy()
    clearing = m.clear(
        m.supply * 0.1, m.depth_factor(1.0), breaker=0.1
    )  # unhalted move would be 0.5
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


@given(
    theta=st.floats(0.0, 1.0),
    halflife=st.floats(0.5, 60.0),
    quiet_days=st.integers(0, 200),
    flow=st.floats(-0.01, 0.01),
)
def test_a_day_s_impact_relaxes_to_its_permanent_share(theta, halflife, quiet_days, flow):
    """One day's flow moves the log price by Delta; after n quiet days
    Delta x (theta + (1 - theta) x 0.5^(n / halflife)) of it is left."""
    m = _market(
        **{
            "assets.0.fundamental_vol_annual": 0.0,
            "market.impact_permanent_share": theta,
            "market.impact_halflife_days": halflife,
            "market.impact_multiplier": 5.0,
        }
    )
    p0 = m.log_price[0]
    m.clear(m.supply * flow, m.depth_factor(1.0), None)
    jump = m.log_price[0] - p0
    for _ in range(quiet_days):
        m.step_fundamental()
        m.clear(np.zeros(1), m.depth_factor(1.0), None)
    left = theta + (1.0 - theta) * 0.5 ** (quiet_days / halflife)
    # the log price is about 11.6: each quiet day's addition rounds at about 2e-15, so a
    # tiny jump is compared to within what 200 roundings can move it
    assert np.isclose(m.log_price[0] - p0, jump * left, rtol=1e-9, atol=1e-12)
    assert np.isclose(jump, 5.0 * flow)  # the day's impact does not depend on theta


@pytest.mark.parametrize(("theta", "halflife"), [(1.0, 10.0), (0.5, 10.0), (0.2, 3.0)])
def test_transient_impact_makes_returns_revert_at_lag_1(theta, halflife):
    """Under i.i.d. net flows the lag-1 autocorrelation of returns is
    -(1 - d)(1 - theta)(1 - d(1 - theta)/(1 + d)) / (1 + (1 - d)(1 - theta)^2/(1 + d)),
    d = 0.5^(1/halflife): zero for permanent impact, negative for partly transient impact."""
    m = _market(
        **{
            "assets.0.fundamental_vol_annual": 0.0,
            "market.impact_permanent_share": theta,
            "market.impact_halflife_days": halflife,
        }
    )
    flows = np.random.default_rng(7).standard_normal(40_000) * 1e-4 * m.supply[0]
    log_p = np.empty(len(flows))
    for t, q in enumerate(flows):
        m.clear(np.array([q]), m.depth_factor(1.0), None)
        log_p[t] = m.log_price[0]
    r = np.diff(log_p)
    d, keep = 0.5 ** (1.0 / halflife), 1.0 - theta
    cov = -(1 - d) * keep * (1 - d * keep / (1 + d))
    var = 1 + (1 - d) * keep**2 / (1 + d)
    rho = np.corrcoef(r[:-1], r[1:])[0, 1]
    assert abs(rho - cov / var) < 4.0 / np.sqrt(len(r))  # 4 standard errors
    if theta < 1.0:
        assert rho < -0.02


@given(
    share=st.floats(-50.0, 50.0, allow_nan=False),
    kink=st.floats(1e-4, 0.5),
    multiplier=st.floats(0.5, 20.0),
)
def test_impact_is_linear_up_to_the_kink_then_a_concave_square_root(share, kink, multiplier):
    from crypto401k.model.market import linear_impact, linear_impact_inverse

    k = np.array([kink])
    move = float(linear_impact(np.array([share]), multiplier, k)[0])
    if abs(share) <= kink:
        assert move == pytest.approx(multiplier * share)
    else:  # never more than the linear law, and growing with the square root
        assert abs(move) < multiplier * abs(share)
        assert abs(move) == pytest.approx(multiplier * np.sqrt(kink * abs(share)))
    assert np.sign(move) == np.sign(share)
    if move != 0.0:  # the inverse gives back the flow
        back = float(linear_impact_inverse(abs(move), multiplier, k)[0])
        assert back == pytest.approx(abs(share), rel=1e-9)


def test_a_fire_sale_of_most_of_the_coins_does_not_move_the_price_without_bound():
    from crypto401k.model.market import linear_impact

    kink = np.array([0.02])  # a day's volume: 2% of the coins
    sale = linear_impact(np.array([-2.0]), 5.0, kink)  # twice the coins, over thin depth
    assert -1.5 < sale[0] < -0.5  # a crash of 45-78%, not a fall to nothing
    assert linear_impact(np.array([-2.0]), 5.0, np.array([np.inf]))[0] == -10.0  # linear


def _four_asset_market(**overrides) -> Market:
    from crypto401k.model import scenarios

    return Market(scenarios.load("four_assets").with_overrides(overrides), np.random.default_rng(0))


def test_news_jumps_arrive_at_their_rate_and_move_every_coin_together():
    """With no Gaussian news, log fundamentals move only on jump days; a jump moves every
    coin by one common draw scaled by its fundamental volatility, the stablecoin not at all,
    and the price moves with the fundamental that day."""
    rate, size = 36.5, 0.1  # a jump every 10 days on average
    m = _four_asset_market(**{"market.jump_rate_annual": rate, "market.jump_size": size})
    m.fund_vol[:] = 0.0  # keep the jumps' scale (set at construction), drop the random walk
    m.drift[:] = 0.0
    days, moves = 3650, []
    for _ in range(days):
        before_f, before_p = m.log_fundamental.copy(), m.log_price.copy()
        m.step_fundamental()
        d = m.log_fundamental - before_f
        assert np.allclose(m.log_price - before_p, d)  # the price takes the news that day
        if np.any(d != 0):
            moves.append(d)
    # Binomial(3650, 0.1): mean 365, sd 18; six sd either way
    assert abs(len(moves) - 365) < 6 * 18
    moves = np.array(moves)
    coins = ~m.pegged
    assert np.all(moves[:, m.pegged] == 0.0)
    # one common draw: the coins' moves are in the ratio of their scales on every jump day
    ratio = moves[:, coins] / moves[:, [0]]
    assert np.allclose(ratio, m.jump_scale[coins] / m.jump_scale[0])
    # the first coin's jumps are N(0, size^2)
    assert abs(moves[:, 0].std() - size) < 0.15 * size


def test_without_jumps_the_random_stream_is_unchanged():
    a = _market(**{"market.jump_rate_annual": 0.0, "market.jump_size": 0.5})
    b = _market(**{"market.jump_rate_annual": 0.0})
    for _ in range(50):
        a.step_fundamental()
        b.step_fundamental()
    assert np.array_equal(a.log_fundamental, b.log_fundamental)
    assert a.rng.random() == b.rng.random()


def _jump_days(branching: float, halflife: float, days: int, seed: int = 0) -> np.ndarray:
    m = Market(
        Config().with_overrides(
            {
                "market.jump_rate_annual": 36.5,
                "market.jump_branching": branching,
                "market.jump_halflife_days": halflife,
            }
        ),
        np.random.default_rng(seed),
    )
    out = np.zeros(days, dtype=bool)
    for day in range(days):
        m.step_fundamental()
        out[day] = m.jumped
    return out


def test_self_exciting_jumps_keep_their_long_run_rate_and_cluster():
    """A Hawkes arrival keeps `jump_rate_annual` on average (its baseline is lowered by the
    branching ratio) while a jump makes the next day's jump far likelier."""
    days = 40_000
    poisson = _jump_days(0.0, 2.0, days)
    hawkes = _jump_days(0.6, 2.0, days)
    # rate 0.1 a day: 4,000 expected; with branching 0.6 the count's sd is about
    # sqrt(4000) / (1 - 0.6) = 160: five sd either way
    assert abs(poisson.sum() - 4000) < 5 * 64
    assert abs(hawkes.sum() - 4000) < 5 * 160

    def after_a_jump(j: np.ndarray) -> float:
        return float(j[1:][j[:-1]].mean())

    # independent jumps: tomorrow's chance is the rate; self-exciting: the baseline 0.04 plus
    # the kick 0.6 * (1 - d) with d = 0.5 ** (1/2), about 0.21, and more from older jumps
    assert abs(after_a_jump(poisson) - 0.1) < 0.03
    assert after_a_jump(hawkes) > 0.2


def test_without_branching_the_jumps_are_the_plain_poisson_draws():
    """With branching 0 the arrival is the independent one: the same draws as a hand-written
    loop (a uniform and a normal a day, a jump when the uniform is below rate/365)."""
    rate = 36.5
    m = Market(
        Config().with_overrides({"market.jump_rate_annual": rate, "market.jump_branching": 0.0}),
        np.random.default_rng(3),
    )
    rng = np.random.default_rng(3)
    for _ in range(2000):
        m.step_fundamental()
        rng.standard_normal(m.n)  # the Gaussian news
        hit, _size = rng.random(), rng.standard_normal()
        assert m.jumped == (hit < rate / 365.0)
