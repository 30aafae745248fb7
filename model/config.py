"""Typed, validated parameters of the crypto401k model.

One `Config` object holds every parameter, grouped in sections. Each field carries its unit,
its meaning and its source (or the stated reason for its value) in the field metadata; the
ODD parameter table and the CLI help are generated from the same metadata, so the docs and
the code cannot drift apart.

Validation happens once, here, at the boundary (scikit-learn's habit): the model trusts a
`Config` it is given. A user's mistake raises `ConfigError` with one message naming the
field, its value and what is allowed.

Money is in US dollars, time in days (one step = one day; crypto trades 365 days a year),
quantities of an asset in coins of that asset.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)


class ConfigError(ValueError):
    """A user-supplied parameter is invalid; the message names field, value and what is allowed."""


def P(default: Any, unit: str, doc: str, source: str, **constraints: Any) -> Any:  # noqa: N802
    """A documented parameter: default, unit, meaning, and source or stated reason."""
    return Field(
        default, description=doc, json_schema_extra={"unit": unit, "source": source}, **constraints
    )


class Section(BaseModel):
    # allow_inf_nan=False: inf and NaN are never a parameter's value (they ran silently into
    # NaN prices and Infinity in summary.json)
    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """A boolean is not a number and a number is not a boolean (pydantic would read `true`
        as 1 and 1 as true)."""
        field = cls.model_fields.get(info.field_name or "")
        types = _number_types(field.annotation) if field is not None else set()
        if not types:
            return value
        items = value if isinstance(value, list) else [value]
        if bool not in types and any(isinstance(v, bool) for v in items):
            raise ValueError("must be a number, not a boolean")
        if types == {bool} and any(
            isinstance(v, int | float) and not isinstance(v, bool) for v in items
        ):
            raise ValueError("must be true or false, not a number")
        return value


def _number_types(annotation: Any) -> set[Any]:
    """The types among int, float and bool that an annotation admits, also inside list[...],
    dict[..., ...] and X | None."""
    found: set[Any] = set()
    stack = [annotation]
    while stack:
        a = stack.pop()
        if a in (int, float, bool):
            found.add(a)
        stack.extend(get_args(a))
    return found


# --------------------------------------------------------------------------------------
class AssetConfig(Section):
    """One traded crypto asset. The defaults are Bitcoin's (the BTC-only baseline); the
    four-asset scenario (model/scenarios/four_assets.toml) states the others'."""

    name: str = P(
        "BTC",
        "-",
        "ticker used in output columns",
        "naming choice; model/scenarios/four_assets.toml adds ETH, a DeFi basket and a stablecoin; "
        "letters, digits, _ and - only: it names output columns and figure files",
        min_length=1,
        max_length=32,
        pattern=r"^[A-Za-z0-9_-]+$",
    )
    market_cap_usd: float = P(
        2.2e12,
        "USD",
        "market capitalisation at day 0",
        "Bitcoin's cap in mid-2025: $2.09T in June [BestChange 2025], $2.42T in mid-July "
        "[Cyptea 2025]; "
        "bounded by $100T, about the world's stock-market capitalisation",
        gt=0,
        le=1e14,
    )
    initial_price_usd: float = P(
        110_000.0,
        "USD/coin",
        "price at day 0",
        "BTC $121,913 in mid-July 2025 [Cyptea 2025]; $102,000-106,560 at the 10 Oct 2025 low "
        "[CoinDesk Research Oct 2025]; "
        "bounded by $1B a coin, 10,000x Bitcoin's 2025 price",
        gt=0,
        le=1e9,
    )
    fundamental_vol_annual: float = P(
        0.35,
        "1/sqrt(year)",
        "volatility of the log fundamental value (random walk)",
        "stated value, not searched (docs/calibration.md): the news component; traders add "
        "the rest of the observed 0.76 [Bitstamp 2014-2020]",
        ge=0,
        le=5,
    )
    fundamental_drift_annual: float = P(
        0.0,
        "1/year",
        "drift of the log fundamental value",
        "zero: the model makes no claim about crypto's long-run return",
        ge=-1,
        le=1,
    )
    kind: Literal["coin", "stablecoin"] = P(
        "coin",
        "-",
        "coin: priced by order flow; stablecoin: a $1 peg held by a reserve ([stablecoin]), "
        "its price the peg or, once broken, what holders expect to recover",
        "the seeds' menu: Bitcoin, Ether, DeFi tokens and stablecoins",
    )
    daily_volume_usd: float | None = P(
        None,
        "USD/day",
        "this asset's spot volume at day-0 prices, used by the square-root impact law "
        "(None: its market-cap share of market.daily_volume_usd)",
        "no per-asset spot volume was found, only the market's $47-93B/day [CCData Dec 2025]; "
        "[CCData Jan 2025]: by default every asset turns over the same share of its cap; "
        "bounded by $10T a day, 100x the market's 2025 spot volume",
        gt=0,
        le=1e13,
    )


class MarketConfig(Section):
    """Price formation: a market maker moves the log price by net order flow over depth."""

    impact_multiplier: float = P(
        5.0,
        "USD of market cap per USD of net flow",
        "inelastic-markets multiplier M: a net flow of F dollars moves the log price by "
        "M*F/market_cap when depth is at its calm level",
        "[Gabaix & Koijen 2021] estimate M about 5 for US equities",
        gt=0,
        le=100,
    )
    impact_kink_turnover: float = P(
        1.0,
        "days of volume",
        "the linear law holds for a day's net flow up to this many days of the asset's spot "
        "volume (as a share of its coins, over depth); beyond it impact grows with the square "
        "root of the flow, so a fire sale of much of the coins in a day does not move the "
        "log price without bound",
        "[Toth, Lemperiere, Deremble, de Lataillade, Kockelkoren & Bouchaud 2011]; [Donier & "
        "Bonart 2015] for Bitcoin: the square-root law of large orders; the kink at one day's "
        "volume is a stated choice (flows below it keep the calibrated linear multiplier)",
        gt=0,
        le=100,
    )
    impact_law: Literal["linear", "sqrt"] = P(
        "linear",
        "-",
        "linear: impact proportional to flow; sqrt: square-root law in flow/volume",
        "[Donier & Bonart 2015] find square-root impact of metaorders on Bitcoin",
    )
    daily_volume_usd: float = P(
        5.0e10,
        "USD/day",
        "spot volume of all assets at day-0 prices, used by the square-root "
        "law (it scales with market cap: constant turnover)",
        "CEX spot $47-93B/day in 2025 [CCData Dec 2025]; [CCData Jan 2025]; "
        "bounded by $10T a day, 100x the market's 2025 spot volume",
        gt=0,
        le=1e13,
    )
    sqrt_impact_coefficient: float = P(
        1.0,
        "-",
        "Y in impact = Y * sigma_daily * sqrt(|flow| / volume)",
        "[Donier & Bonart 2015]: Y of order 1; "
        "bounded by 10, ten times the order of magnitude found",
        gt=0,
        le=10,
    )
    impact_permanent_share: float = P(
        0.5,
        "fraction",
        "share of each day's impact that stays in the price; the rest decays (transient impact)",
        "the model's impact is the day's impact at the close; [Bucci, Benzaquen, Lillo & "
        "Bouchaud 2019]: impact at the end of the day (2/3 of peak) decays to about 1/2 of "
        "itself over ~50 days; [Donier & Bonart 2015]: uninformed Bitcoin flow's impact decays "
        "almost completely",
        ge=0,
        le=1,
    )
    impact_halflife_days: float = P(
        10.0,
        "days",
        "half-life of the transient part of impact (exponential decay)",
        "[Bucci, Benzaquen, Lillo & Bouchaud 2019]: the transient part is gone by about 50 "
        "days (a 10-day half-life leaves 3% at 50 days); [Brokmann, Serie, Kockelkoren & "
        "Bouchaud 2015]: daily metaorders' impact decays slowly over a 10-day horizon",
        gt=0,
        le=3650,
    )
    market_maker_depth_share: float = P(
        0.5,
        "fraction",
        "share of calm depth provided by market-maker institutions (the rest "
        "comes from the unmodelled outside market)",
        "stated assumption; market makers' withdrawal in stress is what thins depth (below 1: "
        "the outside market always provides some depth)",
        ge=0,
        lt=1,
    )
    depth_stress_sensitivity: float = P(
        1.0,
        "-",
        "gamma: market-maker depth is divided by 1 + gamma*max(0, vol/vol_ref - 1)",
        "liquidity spirals [Brunnermeier & Pedersen 2009]; stated functional form",
        ge=0,
        le=20,
    )
    vol_reference_daily: float = P(
        0.04,
        "1/sqrt(day)",
        "calm daily volatility at which depth is at its calm level",
        "daily std 0.040 of Bitcoin's returns [Bitstamp 2014-2020] (docs/calibration.md); "
        "bounded by 1 (100% a day), 25x Bitcoin's",
        gt=0,
        le=1,
    )
    vol_window_days: int = P(
        30,
        "days",
        "window of realized volatility (reported and used for depth)",
        "the conventional 30-day realized volatility",
        ge=2,
        le=365,
    )
    correlation: list[list[float]] = P(
        [[1.0]],
        "-",
        "correlation matrix of the assets' fundamental shocks (assets x assets)",
        "one asset in the baseline; model/scenarios/four_assets.toml's matrix is calibrated to "
        "BTC/ETH/LTC return correlations [Bitstamp 2014-2020] (docs/calibration.md)",
    )


class SaverConfig(Section):
    """401(k) participants, each agent a cohort of people (`RetirementSaver`)."""

    n_cohorts: int = P(
        2000, "agents", "number of saver cohort agents", "size choice", ge=0, le=5_000_000
    )
    plan_assets_usd: float = P(
        8.7e12,
        "USD",
        "401(k) assets at day 0 (all cohorts together)",
        "[ICI Q1 2025]: $8.7T; bounded by $100T, 11x the 2025 assets",
        gt=0,
        le=1e14,
    )
    contributions_usd_per_year: float = P(
        0.46e12,
        "USD/year",
        "employee + employer contributions of all cohorts, 401(k) plans only (not all "
        "defined-contribution plans). Derived: all DC plans' contributions, about $0.65T a year, "
        "times 401(k) plans' share of DC assets, $8.7T / $12.2T = 0.713: 0.65 x 0.713 = $0.46T",
        "DC contributions about $0.65T a year at 12.0% of pay (employee 7.7% + employer; "
        "Vanguard, How America Saves 2025, June 2025); 401(k) $8.7T of DC $12.2T (ICI, "
        "Quarterly Retirement Market Data, first quarter 2025). Order-of-magnitude check: "
        "private DC plans received $570.2B in 2019, with 72.2M active 401(k) participants (US "
        "DOL EBSA, Private Pension Plan Bulletin: Abstract of 2019 Form 5500 Annual Reports, "
        "2021; via 401kSpecialist, https://401kspecialistmag.com/number-of-401k-plans-"
        "surpassed-600000-in-2019-latest-ebsa-figures)",
        ge=0,
        le=1e13,
    )
    offer_share_start: float = P(
        0.01,
        "fraction of plans",
        "share of plans whose menu offers crypto on the day plans open (day 0, or the day a "
        "'plan_access' rule takes effect), counted by cohorts (each stands for a slice of "
        "plans, in a random order of adoption); participants of the others cannot buy",
        "US GAO, GAO-25-106161 (Nov 2024), '401(k) Plans: Industry Data Show Low Participant "
        "Use of Crypto Assets...', https://files.gao.gov/reports/GAO-25-106161/index.html: "
        "crypto is 'substantially less than 1%' of 401(k) plans in 2022-24, offered only "
        "through brokerage windows; 1% is the upper end",
        ge=0,
        le=1,
    )
    offer_share_end: float = P(
        0.25,
        "fraction of plans",
        "share of plans offering crypto at the end of the ramp",
        "stated, conservative assumption (no survey measures adoption after EO 14330): crypto "
        "reaches plans through self-directed brokerage windows (GAO-25-106161), which about "
        "25% of plans offer (Plan Sponsor Council of America annual survey; 17% of Vanguard's "
        "plans: How America Saves 2018); both reported in BenefitsPRO, 'Top 10 equity "
        "holdings through 401(k) self-directed brokerage windows', 3 Oct 2018, https://www."
        "benefitspro.com/2018/10/03/top-10-equity-holdings-through-401k-self-directed/",
        ge=0,
        le=1,
    )
    offer_ramp_days: int = P(
        1095,
        "days",
        "the offering share moves linearly from `offer_share_start` to `offer_share_end` over "
        "this many days after plans open (0: at once)",
        "stated assumption: sponsors' investment committees review menus about yearly, and "
        "adding a new asset class takes a few reviews (three years)",
        ge=0,
    )
    uptake: float = P(
        0.14,
        "fraction of participants",
        "share of cohorts who opt in where their plan offers crypto (drawn once per cohort): "
        "only they buy with `allocation` of their contributions, reallocate balances, or hold "
        "a target-date series with a crypto sleeve; the allocation is of their own account",
        "14% of Americans own crypto (Gallup 2025, via Blockchain.news, Sep 2025, https://"
        "blockchainnews.azurewebsites.net/flashnews/gallup-poll-only-14-of-americans-own-"
        "crypto), between 3% of participants who rank crypto their most wanted of 16 plan "
        "features (Morningstar 2021, 'Who Wants Cryptocurrency in Their Retirement Plan?', "
        "https://www.morningstar.com/articles/1043406/who-wants-cryptocurrency-in-their-"
        "retirement-plan) and 45-46% of Gen Z and Millennial participants who support it "
        "(Charles Schwab 2022 survey, via ForkLog, https://forklog.com/en/news/survey-shows-"
        "millennials-interest-in-pension-savings-in-cryptocurrencies/amp)",
        ge=0,
        le=1,
    )
    max_float_share: float = P(
        0.10,
        "fraction of supply",
        "the plans' sleeves together hold at most this share of an asset's coins (day-0 "
        "supply): their buying in an asset is scaled down so that holdings never pass it "
        "(1: no cap)",
        "Investment Company Act of 1940, s.5(b)(1), 15 U.S.C. 80a-5(b)(1): a diversified fund "
        "holds no more than 10% of an issuer's outstanding voting securities (for 75% of its "
        "assets). Plans would hold crypto through registered funds (target-date funds, ETFs) "
        "that live under this limit; applying it to all plans together, as one fund, is "
        "conservative",
        gt=0,
        le=1,
    )
    allocation: float = P(
        0.01,
        "fraction",
        "crypto share of an opted-in participant's contributions (and of its balance, with "
        "reallocation), and its target-date sleeve's crypto weight; not a share of all 401(k) "
        "assets (see `offer_share_*` and `uptake`)",
        "treatment (experiments sweep 0/1/3/5%); default 1%, the low end of the 1/3/5% "
        "scenarios of [Dunleavy 2025]; 0 is the no-401(k) baseline",
        ge=0,
        le=1,
    )
    menu: list[float] | dict[str, float] = P(
        [1.0],
        "fraction per asset",
        "split of the crypto allocation over the assets: weights in asset order, or by name "
        "(e.g. {BTC = 0.6, ETH = 0.4}; unnamed assets get 0)",
        "one asset in the core; the four-asset scenario states its own",
    )
    channel: Literal["payroll", "payroll+reallocation"] = P(
        "payroll",
        "-",
        "payroll: only new contributions buy crypto; payroll+reallocation: also "
        "move `allocation` of existing balances, phased over `reallocation_days`",
        "modelling choice: the two inflow channels differ by orders of magnitude, so kept apart",
    )
    reallocation_start_day: int = P(
        30,
        "day",
        "days after a cohort's plan starts to offer crypto when its reallocation phase starts",
        "stated assumption: a month after the plan opens",
        ge=0,
        le=365_000,
    )
    reallocation_days: int = P(
        180,
        "days",
        "length of the reallocation phase",
        "stated assumption: plan menus change over months, not days",
        ge=1,
        le=365_000,
    )
    target_date_share: float = P(
        0.83,
        "fraction",
        "share of cohorts in target-date sleeves (the rest self-directed)",
        "[Vanguard HAS 2024]: 83% of participants use target-date funds",
        ge=0,
        le=1,
    )
    rebalance_interval_days: int = P(
        91,
        "days",
        "target-date sleeves rebalance to their crypto weight this often",
        "quarterly rebalancing, typical of target-date funds [Parker, Schoar & Sun 2023]",
        ge=1,
        le=365_000,
    )
    payday_interval_days: int = P(
        14, "days", "days between paydays", "biweekly payroll", ge=1, le=365
    )
    payday_sync: bool = P(
        False,
        "-",
        "true: every employer pays on the same day; false: paydays staggered",
        "treatment",
    )
    n_employers: int = P(
        50,
        "employers",
        "employers (plan sponsors); savers cluster by employer",
        "size choice",
        ge=1,
        le=5_000_000,
    )
    other_return_annual: float = P(
        0.05,
        "1/year",
        "return on the non-crypto part of the plan",
        "stated assumption: a balanced portfolio's long-run nominal return",
        ge=-0.5,
        le=0.5,
    )
    panic_rate_crash: float = P(
        0.144,
        "1/year",
        "yearly probability that a self-directed saver panics when its crypto "
        "sleeve is down `panic_drawdown_scale` or more",
        "[ICI 401(k) FAQ]: 14.4% of participants changed the allocation of balances in 2008",
        ge=0,
        le=50,
    )
    panic_drawdown_scale: float = P(
        0.5,
        "fraction",
        "drawdown of the saver's crypto from its 1-year high at which the panic "
        "hazard reaches `panic_rate_crash` (linear below)",
        "2008: equities fell about 50% peak to trough",
        gt=0,
        le=1,
    )
    target_date_panic_factor: float = P(
        0.2,
        "-",
        "target-date participants' panic hazard relative to self-directed",
        "[Vanguard 2020]: pure target-date investors about 5x less likely to trade",
        ge=0,
        le=1,
    )
    panic_social_weight: float = P(
        2.0,
        "-",
        "hazard multiplier 1 + w * (share of social neighbours panicked)",
        "peer effects in retirement-plan decisions [Duflo & Saez 2003]; size assumed; "
        "bounded by 100: the hazard at most 101x its own level",
        ge=0,
        le=100,
    )
    panic_sell_fraction: float = P(
        0.5,
        "fraction",
        "share of its crypto a panicking saver sells at once",
        "stated assumption: 2008 traders moved part, not all, of their balances",
        ge=0,
        le=1,
    )
    stop_contributing_share: float = P(
        0.26,
        "fraction",
        "share of panicking savers who also stop contributing altogether",
        "[ICI 401(k) FAQ], 2008: 3.7% stopped contributing vs 14.4% who reallocated (3.7/14.4)",
        ge=0,
        le=1,
    )
    panic_duration_days: float = P(
        365.0,
        "days",
        "mean time before a panicked saver resumes its crypto allocation",
        "stated assumption: allocations are revisited about yearly; bounded by 100 years",
        gt=0,
        le=36500,
    )
    entry_age: float = P(
        25.0,
        "years",
        "age at which a new cohort enters",
        "[Vanguard HAS 2025] reports balances from the <25 bracket; careers start ~25",
        ge=16,
        le=70,
    )
    retirement_age: float = P(
        65.0,
        "years",
        "age at which a cohort retires and withdraws",
        "the normal retirement age of most plans",
        ge=17,
        le=90,
    )


class TraderConfig(Section):
    """Retail traders: fundamentalists, chartists and noise traders (`RetailTrader`)."""

    n_traders: int = P(
        1000, "agents", "number of retail trader agents", "size choice", ge=0, le=5_000_000
    )
    wealth_share: float = P(
        0.2,
        "fraction of market cap",
        "retail traders' total equity at day 0",
        "stated assumption: retail exchange accounts hold a fifth of the market",
        ge=0,
        le=10,
    )
    refill_days: float | None = P(
        60.0,
        "days",
        "mean lag of retail money behind the market: each trader's equity relaxes towards its "
        "day-0 share of `wealth_share` x the coins' market cap by 1/refill_days of the gap a "
        "day (deposits and new traders below it, withdrawals above it, from and to the outside "
        "account); None: a closed retail sector whose losses are never replaced",
        "[Auer, Cornelli, Doerr, Frost & Gambacorta 2023]: rises in the number of retail "
        "users of crypto apps lag Bitcoin's price rises by about two months on average (data: "
        "[Auer, Cornelli, Doerr, Frost & Gambacorta 2022])",
        gt=0,
        le=36500,
    )
    initial_weight: float = P(
        0.5,
        "fraction",
        "crypto share of a trader's equity at day 0, and the weight it slowly returns to",
        "stated assumption",
        ge=0,
        le=1,
    )
    initial_shares: list[float] = P(
        [0.4, 0.4, 0.2],
        "fractions",
        "fundamentalist, chartist, noise shares at day 0",
        "[Lux & Marchesi 1999] start near equal fundamentalist/chartist groups",
    )
    fundamentalist_reaction: float = P(
        0.05,
        "1/day",
        "phi: share of equity a fundamentalist trades per unit log mispricing",
        "[Franke & Westerhoff 2012] DCA-HPM structure; stated value, not searched "
        "(docs/calibration.md); "
        "bounded by 1000, 20,000x the default (large values only saturate orders at the "
        "budget, which the tests use)",
        ge=0,
        le=1000,
    )
    chartist_reaction: float = P(
        0.25,
        "-",
        "chi: share of equity a chartist trades per unit of trend (EMA of returns)",
        "[Franke & Westerhoff 2012] structure; calibrated: the MSM-best grid point "
        "(docs/calibration.md, `crypto401k calibrate`); "
        "bounded by 10, 40x the default and 10x the calibration grid's largest",
        ge=0,
        le=10,
    )
    trend_halflife_days: float = P(
        3.0,
        "days",
        "half-life of the chartists' trend estimate",
        "stated assumption: chartists watch the last days; "
        "bounded by the default horizon, 10 years",
        gt=0,
        le=3650,
    )
    fundamentalist_noise: float = P(
        0.02,
        "1/sqrt(day)",
        "sigma_f: common daily noise in fundamentalists' demand",
        "[Franke & Westerhoff 2012] structural stochastic volatility; not searched; "
        "bounded by 1 (100% of equity a day)",
        ge=0,
        le=1,
    )
    chartist_noise: float = P(
        0.08,
        "1/sqrt(day)",
        "sigma_c: common daily noise in chartists' demand",
        "[Franke & Westerhoff 2012]: sigma_c about 3x sigma_f; not searched; "
        "bounded by 1 (100% of equity a day)",
        ge=0,
        le=1,
    )
    idiosyncratic_noise: float = P(
        0.02,
        "1/sqrt(day)",
        "each trader's own daily demand noise",
        "stated assumption; bounded by 1 (100% of equity a day)",
        ge=0,
        le=1,
    )
    rebalance_speed: float = P(
        0.01,
        "1/day",
        "daily pull of a trader's weight to its initial weight (keeps positions inside the budget)",
        "stated assumption",
        ge=0,
        le=1,
    )
    switching_rate: float = P(
        0.05,
        "1/day",
        "nu: base rate of strategy reconsideration",
        "[Franke & Westerhoff 2012] nu about 0.05",
        ge=0,
        le=1,
    )
    predisposition: float = P(
        -0.5,
        "-",
        "alpha_0: attractiveness of fundamentalism over chartism (negative: a predisposition "
        "to chartism)",
        "[Franke & Westerhoff 2012] estimate alpha_0 < 0; calibrated: the MSM-best grid point "
        "(docs/calibration.md, `crypto401k calibrate`)",
        ge=-10,
        le=10,
    )
    herding: float = P(
        1.5,
        "-",
        "alpha_n: weight of the neighbours' majority (herding)",
        "[Franke & Westerhoff 2012]; [Lux & Marchesi 1999]",
        ge=0,
        le=20,
    )
    herding_locality: float = P(
        0.5,
        "fraction",
        "weight of the neighbours' majority in the herding signal (the rest: the whole "
        "population's, as in Lux & Marchesi's mean field)",
        "stated assumption: traders see both their circle and market-wide sentiment",
        ge=0,
        le=1,
    )
    misalignment: float = P(
        10.0,
        "-",
        "alpha_p: weight of squared log mispricing in favour of fundamentalism",
        "[Franke & Westerhoff 2012]",
        ge=0,
        le=1000,
    )
    leverage_share: float = P(
        0.05,
        "fraction",
        "share of traders who use leverage",
        "with `leveraged_weight` 3 this puts levered retail positions at about 3% of market cap, "
        "the size of 2025 open interest ($70-116B [CoinGlass H1 2025]; [CCData Dec 2025])",
        ge=0,
        le=1,
    )
    leveraged_weight: float = P(
        3.0,
        "x",
        "crypto position / equity that leveraged traders hold at day 0 and return to",
        "stated assumption: typical effective leverage well below the exchange maximum",
        ge=0,
        le=250,
    )
    margin_credit_share: float = P(
        0.04,
        "fraction of the coins' cap at fundamental value",
        "the most brokers lend to all leveraged traders together (margin loans); purchases "
        "that would borrow beyond it are cut pro rata",
        "open interest, the notional of all leveraged positions and so more than their loans, "
        "was $70-116B in 2025 [CoinGlass H1 2025]; [CCData Dec 2025], about 3-4% of the coins' "
        "cap; valued at fundamentals so that a bubble does not lend to itself",
        ge=0,
        le=10,
    )
    max_leverage: float = P(
        10.0,
        "x",
        "leverage of leveraged traders (position / equity)",
        "Binance caps new users at 20x and offers up to 125x [Cointelegraph 2021]; BitMEX 100x, "
        "250x from 2024 [BitMEX guide]",
        ge=1,
        le=250,
    )
    maintenance_margin: float = P(
        0.5,
        "fraction of initial margin",
        "a leveraged trader is liquidated when equity falls "
        "below this share of the initial margin (position / max_leverage)",
        "exchanges set maintenance at about half of initial margin",
        gt=0,
        le=1,
    )


class InstitutionConfig(Section):
    """Leveraged funds, lenders and market makers (`Institution`) on the exposure layer."""

    n_funds: int = P(10, "agents", "leveraged funds", "size choice", ge=0, le=100_000)
    n_lenders: int = P(
        5, "agents", "crypto lenders (prime brokers)", "size choice", ge=0, le=100_000
    )
    n_market_makers: int = P(
        5, "agents", "market makers providing depth", "size choice", ge=0, le=100_000
    )
    fund_equity_share: float = P(
        0.02,
        "fraction of market cap",
        "funds' total equity at day 0",
        "stated assumption: CME+Binance BTC open interest ~$30B in 2025 [COINOTAG 2025] "
        "against a $2.2T market",
        ge=0,
        le=1,
    )
    leverage_target: float = P(
        2.0,
        "x",
        "funds' target leverage (position / equity)",
        "[Greenwood, Landier & Thesmar 2015] leverage targeting; CME margin 20-40% "
        "(unverified; 35-47% at the 2017 launch [Bloomberg 2017]); "
        "bounded by 50x, half the largest leverage exchanges offered (100x: BitMEX "
        "XBTUSD perpetual since May 2016, "
        "https://www.bitmex.com/app/inversePerpetualsGuide): beyond it prices collapse",
        ge=1,
        le=50,
    )
    leverage_max: float = P(
        3.0,
        "x",
        "margin limit: above it a fund must sell back to its target at once",
        "[Thurner, Farmer & Geanakoplos 2012]; "
        "bounded by 100x, the leverage BitMEX's XBTUSD perpetual offered from May 2016 "
        "(https://www.bitmex.com/app/inversePerpetualsGuide): funds at 100-200x drove "
        "Bitcoin to 1e-44 USD",
        ge=1,
        le=100,
    )
    adjust_speed: float = P(
        0.2,
        "1/day",
        "share of the gap to target leverage a fund closes per day when within its margin limit",
        "stated assumption",
        gt=0,
        le=1,
    )
    lender_equity_share: float = P(
        0.01, "fraction of market cap", "lenders' total equity", "stated assumption", ge=0, le=1
    )
    lender_leverage: float = P(
        5.0,
        "x",
        "lenders' assets / equity; the rest is deposits from the outside",
        "stated assumption (Celsius: $4.3B assets vs $1.2B hole [Investing.com 2022])",
        ge=1,
        le=100,
    )
    interbank_density: float = P(
        0.4,
        "fraction",
        "probability of a loan between two lenders",
        "stated assumption",
        ge=0,
        le=1,
    )
    interbank_share: float = P(
        0.2,
        "fraction",
        "share of a lender's assets lent to other lenders",
        "stated assumption",
        ge=0,
        le=0.9,
    )
    lender_liquidation_days: float = P(
        5.0,
        "days",
        "lenders sell seized collateral at 1/days of it per day (fire sale)",
        "stated assumption; bounded by the default horizon, 10 years",
        ge=1,
        le=3650,
    )
    mm_equity_share: float = P(
        0.01,
        "fraction of market cap",
        "market makers' total equity",
        "stated assumption",
        ge=0,
        le=1,
    )
    mm_inventory_weight: float = P(
        0.5,
        "fraction",
        "market makers' coin share of their assets at day 0",
        "stated assumption",
        ge=0,
        le=1,
    )
    mm_inventory_limit: float = P(
        2.0,
        "multiple of its target inventory",
        "a market maker takes its share of the day's net flow only up to this multiple of its "
        "target inventory (in coins); the rest goes to the outside market",
        "inventory risk bounds a dealer's position [Ho & Stoll 1981]; the multiple is a stated "
        "assumption (without a limit a market maker absorbing a selling wave on unlimited "
        "credit becomes levered, and a modest fall then takes it past its loss limit)",
        ge=1,
        le=100,
    )
    mm_withdraw_equity: float = P(
        0.5,
        "fraction",
        "a market maker whose equity falls below this share of its highest equity since it "
        "entered stops quoting and closes (a loss limit; its place is taken after "
        "reentry_days)",
        "stated assumption: loss limits",
        ge=0,
        le=1,
    )
    reentry_days: int | None = P(
        90,
        "days",
        "a failed institution's place is taken by a new one of the same kind with its initial "
        "equity (and a lender's deposits) from outside investors after this many days "
        "(None: never)",
        "[Thurner, Farmer & Geanakoplos 2012] reintroduce defaulted funds after a fixed wait; "
        "a quarter to raise a new fund is a stated assumption",
        ge=1,
        le=365_000,
    )
    fund_exit_equity: float = P(
        0.2,
        "fraction",
        "a fund whose equity falls below this share of the equity it started (or entered) "
        "with closes: its investors redeem, its creditors are repaid in full and it is "
        "replaced after `reentry_days` (without it, funds that lost 80-99% lived on as "
        "zombies and the institutional channel vanished for the rest of a run)",
        "[Thurner, Farmer & Geanakoplos 2012] retire funds whose wealth falls below a "
        "floor; [Liang & Park 2010] on liquidation after deep drawdowns; 0.2 (an 80% loss) "
        "is a stated choice",
        ge=0,
        lt=1,
    )
    entry_equity_share: float = P(
        0.5,
        "fraction",
        "a new institution's equity as a share of its predecessor's day-0 equity scaled by the "
        "coins' market cap now against day 0 (a lender's deposits scale the same way): new "
        "funds start small, sized to the market they enter",
        "[Thurner, Farmer & Geanakoplos 2012]: defaulted funds re-enter with a small initial "
        "wealth and grow; the share 0.5 is a stated assumption",
        gt=0,
        le=1,
    )
    leverage_dispersion: float = P(
        0.3,
        "log units",
        "standard deviation across funds of log(target leverage - 1): each fund's target "
        "borrowing is lognormal around the median `leverage_target - 1`",
        "[Ang, Gorovyy & van Inwegen 2011] find leverage differing several-fold across funds "
        "and strategies; 0.3 (5-95% of target borrowing 0.6x-1.6x the median) is a stated "
        "choice",
        ge=0,
        le=1,
    )
    margin_buffer_dispersion: float = P(
        0.5,
        "fraction",
        "each fund's margin buffer (limit - target) is the median buffer "
        "(leverage_max - leverage_target) times a uniform draw in [1 - d, 1 + d]",
        "stated assumption: prime brokers set margins fund by fund [Ang, Gorovyy & van "
        "Inwegen 2011]",
        ge=0,
        lt=1,
    )
    adjust_speed_dispersion: float = P(
        0.5,
        "fraction",
        "each fund's adjustment speed is `adjust_speed` times a uniform draw in [1 - d, 1 + d]",
        "stated assumption: funds rebalance at different frequencies ([Greenwood, Landier & "
        "Thesmar 2015] model one speed; heterogeneity is what keeps funds from failing on the "
        "same day)",
        ge=0,
        lt=1,
    )
    initial_leverage_low: float = P(
        0.5,
        "fraction",
        "at day 0 (before the burn-in) a fund's borrowing is its target borrowing times a "
        "uniform draw in [initial_leverage_low, 1]: funds start below target",
        "stated assumption (issue 17: no result may depend on every agent starting at its "
        "target; the burn-in spreads the states further)",
        ge=0,
        le=1,
    )
    margin_vol_exponent: float = P(
        0.5,
        "-",
        "procyclical margins: lenders scale a fund's allowed borrowing (target and limit "
        "leverage minus 1) by min(1, (calm vol / realized vol)^b); b = 0.5 is a value-at-risk "
        "rule, 0 switches it off",
        "[Adrian & Shin 2010]; [Aymanns & Farmer 2015] (leverage ~ vol^-b, b = 1/2 for a VaR "
        "constraint); the calm vol is `market.vol_reference_daily` scaled by each asset's "
        "fundamental volatility relative to the first asset's",
        ge=0,
        le=2,
    )


class RegulatorConfig(Section):
    """The regulator's pressure, lag and action ladder (`Regulator`, `model/policy.py`)."""

    enabled: bool = P(True, "-", "whether the regulator acts", "treatment")
    pressure_decay: float = P(
        0.989,
        "per day",
        "rho in S_t = rho*S_(t-1) + (1-rho)*kappa*loss_t: pressure is an exponential average "
        "of savers' open loss, time constant 1/(1-rho) days (about 91)",
        "participants see their losses on quarterly benefit statements: ERISA section "
        "105(a)(1)(A)(i), 29 U.S.C. 1025(a)(1)(A)(i), as amended by the Pension Protection Act "
        "of 2006 (Pub. L. 109-280, section 508): a statement at least once each calendar "
        "quarter to participants who direct their investments; so a quarter's average",
        ge=0,
        lt=1,
    )
    loss_weight: float = P(
        1.0,
        "pressure per bp",
        "kappa: pressure per basis point of 401(k) plan assets that savers have lost against "
        "cost (the pressure's steady state under a constant loss x is kappa*x)",
        "normalisation: pressure is in bps of plan assets",
        ge=0,
        le=1000,
    )
    threshold: float = P(
        124.0,
        "bps of plan assets",
        "pressure (averaged open loss) at which the first action (warning) is set in motion; "
        "rung k needs k times this",
        "the DOL's Compliance Assistance Release 2022-01 [DOL CAR 2022-01] ('extreme care', "
        "10 Mar 2022; EBSA "
        "text in BenefitsLink Retirement Plans Newsletter, 10 Mar 2022, https://benefitslink."
        "com/newsletters/2022/2022_03_10_retirement_bulletin.html) as the warning rung: the "
        "pressure, lag_days before it, of a plan with 5% of balances in Bitcoin (ForUsAll's "
        "cap: Congressional Research Service, 'Cryptocurrency in 401(k) Retirement Plans', "
        "IF12153, 1 Jul 2022) through Bitcoin's fall from its $69,000 peak of 10 Nov 2021 "
        "(reported prices in model/regulator.py CAR_2022_01; docs/ODD.md, 'Regulator')",
        gt=0,
        le=1e15,
    )
    lag_days: int = P(
        30,
        "days",
        "days between the decision to act and the action taking effect",
        "stated assumption: about a month to draft and clear a release like CAR 2022-01, "
        "sub-regulatory guidance issued without notice and comment ('Industry Groups "
        "Push Back: Why the DOL Should Partner with Stakeholders to Revise Its "
        "Cryptocurrency Guidance', LexBlog, 1 May 2022, https://www.lexblog.com/2022/05/01/"
        "industry-groups-push-back-why-the-dol-should-partner-with-stakeholders-to-revise-"
        "its-cryptocurrency-guidance/); rules take longer (the agencies scenario)",
        ge=0,
        le=365_000,
    )
    relax_fraction: float = P(
        0.5,
        "fraction",
        "a rung is relaxed when pressure stays below this share of its threshold",
        "hysteresis; stated assumption",
        ge=0,
        le=1,
    )
    relax_days: int = P(
        180,
        "days",
        "days pressure must stay low before relaxing a rung",
        "regulation loosens slowly [Dagher 2018]",
        ge=1,
        le=365_000,
    )
    warning_effect: float = P(
        0.5,
        "fraction",
        "share of new crypto contributions that continue after a warning",
        "stated assumption",
        ge=0,
        le=1,
    )
    cap_allocation: float = P(
        0.01, "fraction", "allocation cap imposed at rung 2", "assumed: e.g. 5% -> 1%", ge=0, le=1
    )
    rescue_share: float = P(
        1.0,
        "fraction",
        "at rung 5 the Treasury makes good this share of savers' losses (fiscal.rescue_mode)",
        "SVB 2023: uninsured deposits made whole [CRS IF12378]",
        ge=0,
        le=1,
    )
    unwind_days: int = P(
        90,
        "days",
        "forced unwind sells savers' crypto over this many days",
        "stated assumption",
        ge=1,
        le=365_000,
    )
    max_level: int = P(
        4,
        "rung",
        "highest rung the regulator may reach (1 warning, 2 cap, 3 freeze, 4 forced unwind, "
        "5 fiscal rescue)",
        "treatment; the rescue is off by default (the core's results predate it)",
        ge=0,
        le=5,
    )
    circuit_breaker: float | None = P(
        None,
        "log return",
        "halt: the day's price move is capped at this size and orders "
        "scaled to fit (None: no breaker)",
        "optional market tool [Westerhoff 2008]; bounded by 5 (a day's move of 150x)",
        gt=0,
        le=5,
    )
    leverage_cap: float | None = P(
        None,
        "x",
        "from rung 2 on, traders' and funds' leverage is capped here (None: no cap)",
        "optional market tool; bounded by 250x, the largest exchange leverage on offer",
        ge=1,
        le=250,
    )


class NetworkConfig(Section):
    """The market graph: social layer (who watches whom) and exposure layer (who lends)."""

    topology: Literal[
        "barabasi_albert", "watts_strogatz", "erdos_renyi", "stochastic_block", "graphml"
    ] = P(
        "stochastic_block",
        "-",
        "family of the social layer",
        "modelling choice: savers cluster by employer",
    )
    mean_degree: float = P(
        6.0, "edges/node", "mean social degree", "stated assumption", gt=0, le=1000
    )
    rewire_prob: float = P(
        0.1,
        "probability",
        "Watts-Strogatz rewiring probability",
        "[Watts & Strogatz 1998]",
        ge=0,
        le=1,
    )
    within_block_share: float = P(
        0.8,
        "fraction",
        "stochastic block: share of a node's edges inside its block "
        "(its employer, or the traders' block)",
        "stated assumption",
        ge=0,
        le=1,
    )
    graphml_path: str | None = P(
        None,
        "path",
        "GraphML file for topology='graphml': nodes 0..n-1 in agent order "
        "(savers, traders, institutions); edges may carry `layer`",
        "user input",
    )


class ShockConfig(Section):
    """A scheduled shock: a fall of fundamental value, or the default of an institution."""

    day: int | None = P(
        None, "day", "day of the shock (None: no shock)", "treatment", ge=0, le=365_000
    )
    fundamental_drop: float = P(
        0.0,
        "fraction",
        "fall of the fundamental value of `asset` (every coin if None)",
        "treatment",
        ge=0,
        lt=1,
    )
    asset: str | None = P(
        None,
        "-",
        "name of the one coin whose fundamental falls (None: every coin)",
        "treatment: a crash in one asset, to see how far it travels into the others",
    )
    default_institution: int | None = P(
        None,
        "index",
        "institution (0-based, in the order funds, lenders, market makers) "
        "that fails on the shock day, losing `default_loss` of its assets",
        "treatment",
        ge=0,
        le=300_000,
    )
    default_loss: float = P(
        1.0,
        "fraction",
        "share of the failed institution's coins and cash that vanish "
        "(fraud, theft) and are booked as lost",
        "FTX: $8.9B of $11.6B customer balances missing [WSJ Pro Bankruptcy 2023]",
        ge=0,
        le=1,
    )


class StablecoinConfig(Section):
    """The issuer behind the asset of kind 'stablecoin': its reserve, peg and run."""

    reserve_ratio: float = P(
        1.0,
        "USD/coin",
        "reserve per coin outstanding at day 0",
        "fully backed: the 1:1 rule of [GENIUS Act 2025]; Circle's ~$40B reserve against USDC "
        "[The Block 2023]",
        ge=0,
        le=10,
    )
    reserve_risky_share: float = P(
        0.0,
        "fraction",
        "share of the reserve in the issuer's own volatile token (the rest: cash and bills)",
        "0 for a fiat-backed coin (USDC); near 1 for an algorithmic one (UST, backed by LUNA)",
        ge=0,
        le=1,
    )
    risky_impact: float = P(
        3.0,
        "-",
        "k: selling a share x of the risky reserve in a day cuts the price of the rest "
        "by exp(-k x)",
        "stated assumption; with reserve_risky_share 1 and a 10% reserve loss it takes UST "
        "below $0.10 within a week (9-13 May 2022: $0.985 to $0.078 [CryptoCompare 2022])",
        ge=0,
        le=100,
    )
    depeg_threshold: float = P(
        0.005,
        "fraction",
        "the peg breaks when the reserve's hole (1 - reserve/supply) exceeds this",
        "stated assumption: holders tolerate rounding-size gaps, not a visible hole",
        ge=0,
        lt=1,
    )
    run_rate: float = P(
        0.05,
        "1/day",
        "share of the supply presented for redemption each day while the peg is broken",
        "USDC, 10-11 Mar 2023: $2.34B burned in 24 h of about $43B [The Block 2023]",
        ge=0,
        le=1,
    )
    panic_discount: float = P(
        0.05,
        "fraction",
        "off the peg the coin trades at coverage * (1 - discount)",
        "USDC: coverage 0.92 ($3.3B of ~$40B frozen) and a low of $0.86-0.88 [The Block 2023]",
        ge=0,
        lt=1,
    )
    shock_day: int | None = P(
        None, "day", "day the reserve is hit (None: never)", "treatment", ge=0, le=365_000
    )
    shock_reserve_loss: float = P(
        0.0825,
        "fraction",
        "share of the reserve frozen or lost on the shock day",
        "USDC: $3.3B at SVB of about $40B [The Block 2023]",
        ge=0,
        le=1,
    )
    backstop_days: int | None = P(
        2,
        "days",
        "days until a frozen reserve is made good (None: never, the loss is final)",
        "SVB: deposits guaranteed on 12 Mar 2023, two days after the failure [Fortune 2023]; "
        "USDC back at par on 13 Mar [CoinDesk Mar 2023]",
        ge=0,
        le=365_000,
    )


class ExchangeConfig(Section):
    """Exchanges and custodians that hold coins and cash for traders (and for plans, unless
    plan assets sit in segregated qualified custody); a failure loses part of what it holds."""

    n_exchanges: int = P(
        0,
        "agents",
        "number of exchanges (0: custody is not modelled, as in the BTC-only baseline)",
        "the four-asset scenario has 20 (a failure drawn among them then holds 5% of "
        "customer assets on average: FTX-sized)",
        ge=0,
        le=1000,
    )
    concentration: float = P(
        1.0,
        "-",
        "market share of the k-th exchange is proportional to k^-concentration",
        "stated assumption (Zipf): CEX open interest Binance 23%, CME 15%, Bybit 11% "
        "[CCData Dec 2025]",
        ge=0,
        le=5,
    )
    plan_custody_segregated: bool = P(
        True,
        "-",
        "plan coins sit with a segregated qualified custodian (survive any exchange failure); "
        "if false, each employer's plan keeps its coins at an exchange and shares its losses",
        "rule under study; qualified crypto custodians [SEC no-action letter 2025]",
    )
    failure_rate_annual: float = P(
        0.0,
        "1/year",
        "rate of exchange failures in the whole market (the failing one drawn uniformly "
        "among those still open)",
        "four-asset scenario: 0.33 = four custodial failures (Mt. Gox 2014 [Bloomberg 2014]; "
        "Celsius [Investing.com 2022], Voyager [Banking Dive 2022], FTX 2022 [WSJ Pro Bankruptcy "
        "2023]) in the 12 years 2014-2025; 0 in the baseline",
        ge=0,
        le=52,
    )
    loss_share: float = P(
        0.74,
        "fraction",
        "share of the coins and cash a failed exchange holds for customers that is lost",
        "FTX: $6.4B of the $8.7B owed to customers was misappropriated [CoinDesk Jun 2023]",
        ge=0,
        le=1,
    )
    freeze_days: int = P(
        365,
        "days",
        "customers of a failed exchange cannot trade what is left for this long",
        "stated assumption: FTX and Mt. Gox customers waited years; a year keeps it in a run",
        ge=0,
        le=365_000,
    )
    news_scale: float = P(
        1.551,
        "fraction",
        "scale a of the news law: a failure that lost a share L of the coins' cap cuts every "
        "coin's fundamental value by min(news_cap, a x L^news_exponent)",
        "fitted by least squares on seven failures (Mt. Gox 2014, Bitfinex 2016, Coincheck "
        "2018, BitGrail 2018, QuadrigaCX 2019, FTX 2022, Bybit 2025; each one's loss, cap and "
        "Bitcoin's week cited in crypto401k.experiments.calibrate.FAILURE_EVENTS and "
        "docs/calibration.md; FTX's week [CoinDesk Nov 2022]): 1.5507, with the exponent",
        ge=0,
        le=10,
    )
    news_exponent: float = P(
        0.517,
        "-",
        "exponent b of the news law a x L^b: below 1 the law is concave (the first dollars "
        "lost carry the news that a venue failed, further dollars add less)",
        "fitted with news_scale on the same seven failures: 0.5171 (docs/calibration.md)",
        gt=0,
        le=1,
    )
    news_cap: float = P(
        0.38,
        "fraction",
        "largest fall of the fundamental value a failure's news can cause",
        "the largest reaction observed among the seven: Bitcoin fell 38% on Bitstamp from $760 "
        "to $470 between Mt. Gox halting withdrawals (7 Feb 2014) and going dark (24 Feb): "
        "'The Mt. Gox Bitcoin Exchange Has Gone Offline', fanatically.org, 24 Feb 2014",
        ge=0,
        lt=1,
    )
    news_days: int = P(
        2,
        "days",
        "a failure's fall of the fundamental comes in equal log steps over this many days, "
        "from the failure day",
        "stated assumption on FTX: Bitcoin fell four days in a row, -26.1% in all, its "
        "largest day -15.6% on 9 Nov 2022, 56% of the four days' log fall (Dow Jones Market "
        "Data via MarketScreener, 'Bitcoin Lost 15.63% to 15787.53 at 5 p.m. ET', 9 Nov 2022, "
        "https://www.marketscreener.com/news/latest/Bitcoin-Lost-15-63-to-15787-53-at-5-p-m-ET-"
        "Data-Talk--42261307/); two equal days put 50% on each",
        ge=1,
        le=30,
    )
    fail_day: int | None = P(
        None, "day", "day of a scheduled failure (None: none)", "treatment", ge=0, le=365_000
    )
    fail_exchange: int = P(
        0,
        "index",
        "the exchange that fails on fail_day (0 = the largest)",
        "treatment: the largest, as FTX (no. 2-3) and Mt. Gox (70-80% of trading "
        "[Bloomberg 2014]) were",
        ge=0,
        le=100_000,
    )


# --------------------------------------------------------------------------------------
AGENCIES = ("DOL", "SEC", "IRS", "CFTC")
# each agency's instruments (model/agencies.py applies them); a rule's first agency leads
# it and must own its instrument. value: what the rule's `value` means ("-": no value)
INSTRUMENTS: dict[str, dict[str, str]] = {
    "DOL": {
        "plan_access": "fiduciary safe harbour: share of plans that may offer crypto once it "
        "is in force, a ceiling on the savers' offering ramp, which starts that day (fraction; "
        "the executive-order scenario's inflows wait for it)",
        "vehicle": "crypto only through the plan's target-date (professionally managed) "
        "vehicle: self-directed savers of the plans may no longer buy it (-)",
        "disclosure": "disclosure and suitability: share of savers' new crypto contributions "
        "that continue (fraction)",
        "allocation_cap": "cap on the crypto allocation and target-date weight (fraction)",
        "freeze": "no new money into crypto (-)",
        "unwind": "forced unwind: savers sell their crypto over this many days (days)",
        "rescue": "fiscal rescue, the last rung of the backlash: share of savers' losses the "
        "Treasury makes good, as fiscal.rescue_mode says (fraction)",
    },
    "SEC": {
        "custody": "segregated qualified custody of plan assets from then on (-)",
        "exchange_standards": "listing and disclosure standards: factor on the hazard of "
        "exchange failure (fraction)",
        "listing": "only tokens with a market cap at day 0 of at least this qualify for plan "
        "menus (USD)",
    },
    "IRS": {
        "reporting": "valuation and reporting cost inside plans, per year of the plans' crypto "
        "value, paid from the plans' other assets (fraction/year)",
    },
    "CFTC": {
        "leverage_cap": "cap on traders' and funds' leverage (x)",
    },
}
# allowed range of a rule's value, per instrument: (low, high); None: the rule has no value
INSTRUMENT_RANGE: dict[str, tuple[float, float] | None] = {
    "plan_access": (0.0, 1.0),
    "disclosure": (0.0, 1.0),
    "allocation_cap": (0.0, 1.0),
    "freeze": None,
    "vehicle": None,
    "unwind": (1.0, 36500.0),
    "rescue": (0.0, 1.0),
    "custody": None,
    "exchange_standards": (0.0, 1.0),
    "listing": (0.0, 1e15),
    "reporting": (0.0, 0.1),
    "leverage_cap": (1.0, 1000.0),
}


class AgencyConfig(Section):
    """One agency's pressure and rule-making lags (`Agency`, `model/agencies.py`)."""

    acts: bool = P(True, "-", "whether the agency writes rules at all", "treatment")
    pressure_decay: float = P(
        0.989,
        "per day",
        "rho: the DOL's and IRS's pressure averages their level signal, S_t = rho*S_(t-1) + "
        "(1-rho)*signal_t; the SEC's and CFTC's counts their events, S_t = rho*S_(t-1) + "
        "signal_t (model/agencies.py)",
        "as regulator.pressure_decay: a quarter's memory (quarterly benefit statements, ERISA "
        "section 105(a)(1)(A)(i), 29 U.S.C. 1025(a)(1)(A)(i))",
        ge=0,
        lt=1,
    )
    threshold: float = P(
        124.0,
        "bps",
        "pressure at which the agency's rung-1 rule is set in motion (rung k: k times this)",
        "the DOL's: as regulator.threshold (its signal is the same open loss, in bps of plan "
        "assets, set on CAR 2022-01); the others' in AGENCY_SOURCES",
        gt=0,
        le=1e15,
    )
    propose_days: int = P(
        236,
        "days",
        "from the decision to act to the notice of proposed rule-making",
        "[EO 14330] (7 Aug 2025) to the DOL's NPRM (31 Mar 2026) [DOL NPRM 2026]: 236 days",
        ge=0,
        le=36500,
    )
    comment_days: int = P(
        62,
        "days",
        "the public comment period",
        "DOL NPRM 31 Mar 2026 to comments due 1 Jun 2026 [DOL NPRM 2026]",
        ge=0,
        le=36500,
    )
    final_days: int = P(
        303,
        "days",
        "from the close of comments to the final rule, in force on publication",
        "median notice-and-comment rule: about 12 months from proposal to final "
        "[Yackee & Yackee 2012]: 365 - 62 days",
        ge=0,
        le=36500,
    )


# where an agency's default differs from the DOL's (the field's own source), its source
AGENCY_SOURCES = {
    "agencies.sec.propose_days": "stated assumption: no SEC deadline in [EO 14330]; set as the "
    "CFTC's [MoFo 2025]",
    "agencies.sec.threshold": "stated assumption: an FTX-sized loss (about 1% of the coins' "
    "cap, 100 bps) sets its first rule in motion",
    "agencies.irs.propose_days": "stated assumption: the 180-day deadline of [EO 14330]",
    "agencies.irs.threshold": "stated assumption: the IRS writes its rules when the order "
    "directs it, not under pressure",
    "agencies.cftc.propose_days": "CFTC 'crypto sprint' (4 Aug 2025) to the first leveraged "
    "spot product on a DCM (8 Dec 2025): about 4 months [MoFo 2025]",
    "agencies.cftc.threshold": "stated assumption: above the start-up burst of liquidations "
    "(traders' initial leverage, about 600 bps), so it reacts to defaults and later waves",
}


def _sec() -> AgencyConfig:
    return AgencyConfig(propose_days=120, threshold=100.0)


def _irs() -> AgencyConfig:
    return AgencyConfig(propose_days=180, threshold=1e6)


def _cftc() -> AgencyConfig:
    return AgencyConfig(propose_days=120, threshold=1000.0)


class RuleConfig(Section):
    """One rule: who writes it, with which instrument, and what starts it."""

    name: str = P("rule", "-", "the rule's name (for the records)", "label")
    agencies: list[str] = P(
        ["DOL"],
        "-",
        "agencies that must all finish their rule-making (the first leads and owns the instrument)",
        "[EO 14330] directs the DOL to act 'in coordination with' the SEC and Treasury",
        min_length=1,
    )
    instrument: str = P("disclosure", "-", "what the rule does (see INSTRUMENTS)", "treatment")
    value: float | None = P(None, "instrument's unit", "the instrument's setting", "treatment")
    trigger: Literal["order", "pressure"] = P(
        "pressure",
        "-",
        "'order': started on day 0 by the executive order; 'pressure': started when the "
        "lead agency's pressure reaches rung x its threshold",
        "treatment",
    )
    rung: int = P(
        1, "rung", "pressure level (in thresholds) that starts the rule", "treatment", ge=1, le=10
    )


def _default_rules() -> list[RuleConfig]:
    r = RuleConfig
    return [
        r(
            name="safe harbour",
            agencies=["DOL"],
            instrument="plan_access",
            value=1.0,
            trigger="order",
        ),
        r(name="plan custody", agencies=["SEC", "DOL"], instrument="custody", trigger="order"),
        r(name="reporting", agencies=["IRS"], instrument="reporting", value=0.001, trigger="order"),
        r(name="disclosure", agencies=["DOL"], instrument="disclosure", value=0.5, rung=1),
        r(name="allocation cap", agencies=["DOL"], instrument="allocation_cap", value=0.01, rung=2),
        r(name="inflow freeze", agencies=["DOL"], instrument="freeze", rung=3),
        r(name="forced unwind", agencies=["DOL"], instrument="unwind", value=90.0, rung=4),
        r(name="fiscal rescue", agencies=["DOL"], instrument="rescue", value=1.0, rung=5),
        r(
            name="exchange standards",
            agencies=["SEC"],
            instrument="exchange_standards",
            value=0.5,
            rung=1,
        ),
        r(name="listing standard", agencies=["SEC"], instrument="listing", value=1e11, rung=2),
        r(name="leverage cap", agencies=["CFTC"], instrument="leverage_cap", value=20.0, rung=1),
        r(name="margin rule", agencies=["CFTC"], instrument="leverage_cap", value=5.0, rung=2),
    ]


class AgenciesConfig(Section):
    """Four agencies that write rules with their own lags (`model/agencies.py`); when
    enabled they replace the single regulator."""

    enabled: bool = P(
        False,
        "-",
        "four agencies (DOL, SEC, IRS, CFTC) instead of the single regulator",
        "treatment; the single regulator is the simple scenario (the default)",
    )
    executive_order: bool = P(
        True,
        "-",
        "the run starts on the day of the executive order: rules with trigger 'order' start "
        "on day 0, and plans offer crypto only once a 'plan_access' rule is in force",
        "[EO 14330], 7 Aug 2025",
    )
    coordination: float = P(
        1.0,
        "fraction",
        "a joint rule takes effect max(lags of its agencies) / coordination days after it "
        "starts (1: perfect coordination)",
        "treatment: the 'coordination efficiency among multiple agencies' of [Dunleavy 2025]",
        gt=0,
        le=1,
    )
    lag_scale: float = P(
        1.0,
        "-",
        "factor on every agency's stage lags (propose, comment, final; rounded to days)",
        "treatment: faster (0.5) or slower (2) rule-making than the observed lags",
        gt=0,
        le=10,
    )
    backlash_breadth: float = P(
        1.0,
        "-",
        "the DOL's signal is savers' loss (bps of plan assets) x (1 + this x share of "
        "crypto-holding cohorts under water): backlash grows with how many are hit",
        "stated assumption: breadth can double the signal",
        ge=0,
        le=100,
    )
    dol: AgencyConfig = Field(default_factory=AgencyConfig)
    sec: AgencyConfig = Field(default_factory=_sec)
    irs: AgencyConfig = Field(default_factory=_irs)
    cftc: AgencyConfig = Field(default_factory=_cftc)
    rules: list[RuleConfig] = Field(default_factory=_default_rules)

    @model_validator(mode="after")
    def _check_rules(self) -> AgenciesConfig:
        for k, rule in enumerate(self.rules):
            where = f"agencies.rules.{k}"
            for a in rule.agencies:
                if a not in AGENCIES:
                    raise _field_error(
                        f"{where}.agencies",
                        rule.agencies,
                        f"agency names among {', '.join(AGENCIES)}",
                    )
            if len(set(rule.agencies)) != len(rule.agencies):
                raise _field_error(f"{where}.agencies", rule.agencies, "distinct agency names")
            lead = rule.agencies[0]
            if rule.instrument not in INSTRUMENTS[lead]:
                raise _field_error(
                    f"{where}.instrument",
                    rule.instrument,
                    f"one of {lead}'s instruments ({', '.join(INSTRUMENTS[lead])})",
                )
            bounds = INSTRUMENT_RANGE[rule.instrument]
            if bounds is None and rule.value is not None:
                raise _field_error(
                    f"{where}.value",
                    rule.value,
                    f"unset: instrument '{rule.instrument}' takes no value",
                )
            if bounds is not None and (
                rule.value is None or not bounds[0] <= rule.value <= bounds[1]
            ):
                raise _field_error(
                    f"{where}.value",
                    rule.value,
                    f"a number in [{bounds[0]:g}, {bounds[1]:g}] for "
                    f"instrument '{rule.instrument}'",
                )
        return self

    def agency(self, name: str) -> AgencyConfig:
        return getattr(self, name.lower())


class FiscalConfig(Section):
    """The government's ledger of 401(k) income tax (`model/fiscal.py`)."""

    roth_share: float = P(
        0.18,
        "fraction",
        "share of each cohort's contributions and balance in Roth accounts (taxed now, "
        "withdrawn tax-free); the rest is traditional (deducted now, taxed at withdrawal)",
        "Roth take-up 15-22% of participants ([PSCA 2024]: 22%; [Vanguard 2018]: 12-13% in "
        "2016-17)",
        ge=0,
        le=1,
    )
    tax_rate: float = P(
        0.22,
        "fraction",
        "marginal income-tax rate of a cohort below the top pay decile",
        "median participant's income $89,000 [Vanguard HAS 2025]: the 22% bracket "
        "[IRS Rev. Proc. 2024-40]",
        ge=0,
        le=1,
    )
    tax_rate_top: float = P(
        0.32,
        "fraction",
        "marginal rate of the cohorts in the top decile of pay",
        "32-37% for the top decile [IRS Rev. Proc. 2024-40]; the lower end",
        ge=0,
        le=1,
    )
    retirement_tax_factor: float = P(
        1.0,
        "-",
        "rate on traditional withdrawals = this x the cohort's working marginal rate",
        "stated assumption: the same bracket in retirement (the textbook case); lower it to "
        "study retirees in lower brackets",
        ge=0,
        le=3,
    )
    discount_rate: float = P(
        0.04,
        "1/year",
        "rate at which the ledger discounts revenue to day 0 (present value)",
        "stated assumption: about the 10-year Treasury yield of 2025 (nominal, as the plan's "
        "return); the fiscal experiment also reports 0.02 and the plan's own return",
        ge=-0.5,
        le=0.5,
    )
    payout_years: int = P(
        20,
        "years",
        "a retiring cohort draws its balance down in equal yearly withdrawals over this many "
        "years (the tax projection)",
        "stated assumption: life expectancy at 65 is about 20 years [SSA life table]",
        ge=1,
        le=60,
    )
    rescue_mode: Literal["compensate", "buy"] = P(
        "compensate",
        "-",
        "a rescue pays savers' losses into their plans ('compensate') or buys coins in the "
        "market over rescue_days ('buy'; the Treasury keeps them, valued at the run's end)",
        "policy treatment (TARP bought assets [CRS R41427]; the SVB backstop made depositors "
        "whole [CRS IF12378])",
    )
    rescue_days: int = P(
        30,
        "days",
        "a 'buy' rescue spreads its purchases over this many days",
        "stated assumption",
        ge=1,
        le=3650,
    )


class RunConfig(Section):
    """How long to run and what to record."""

    steps: int = P(
        3650, "days", "days to simulate", "modelling choice: 10 simulated years", ge=1, le=365_000
    )
    seed: int = P(
        42,
        "-",
        "seed of the model's random generators",
        "any integer; it fixes every random draw of a run",
        ge=0,
        le=2**63 - 1,
    )
    collect_agent_data: bool = P(
        False, "-", "also record per-agent state every day (slow)", "off by default for speed"
    )
    burn_in_days: int = P(
        120,
        "days",
        "days simulated before the recorded day 0, with the fundamentals held still, no 401(k) "
        "flows, no policy and no scheduled or random events: traders' strategies and trend, "
        "funds' leverage, market makers' inventories and the 30-day volatility leave their "
        "initial values",
        "stated reason: four times the slowest state's time scale (the 30-day volatility "
        "window); funds close 10-30% of their gap a day and traders switch within weeks",
        ge=0,
        le=3650,
    )
    divergence_ratio: float = P(
        20.0,
        "x",
        "a run whose price leaves [1/ratio, ratio] times its fundamental on any day, in any "
        "asset, is flagged diverged (a failure of the model, never data)",
        "issue 17's bound; the largest Bitcoin bubble in the shipped Bitstamp data rose about "
        "20-fold in a year, in 2017, far from any sustained 20-fold gap to a fundamental",
        gt=1,
        le=1000,
    )


class OutsideConfig(Section):
    """The outside market: every holder not modelled as an agent (long-term holders, miners,
    other venues). It takes the other side of the net flow, and its holders sell into rallies
    and buy into falls: they aim for holdings that fall with the price's premium over the
    fundamental, so no group of agents can buy up every coin."""

    demand_elasticity: float = P(
        0.2,
        "-",
        "elasticity zeta of the outside's coin demand to the price/fundamental ratio: it aims "
        "to hold H0 * (P/F)^-zeta coins, H0 its holdings at day 0",
        "[Gabaix & Koijen 2021]: aggregate demand elasticity about 0.2 (the inverse of the "
        "impact multiplier 5 used in `market`)",
        ge=0,
        le=5,
    )
    adjust_speed: float = P(
        0.02,
        "1/day",
        "share of the gap to its aimed holdings the outside trades each day",
        "stated assumption: long-term holders rebalance over months (half-life about 35 days)",
        ge=0,
        le=1,
    )
    reference_halflife_days: float = P(
        365.0,
        "days",
        "half-life over which the outside's reference holdings H0 follow its actual holdings: "
        "it resists a rally or a fall for months, but a lasting change in who holds the coins "
        "does not become a lasting gap between price and fundamental",
        "stated assumption: a year, the horizon of long-term holders' rebalancing; with a "
        "fixed H0 every coin the agents lose to the outside (trading losses, written-off "
        "debt) became a permanent discount (mean log(P/F) -0.15 over 3 years, 4 seeds)",
        gt=0,
        le=36500,
    )


class Config(Section):
    """The complete scenario. The defaults are the built-in default scenario."""

    assets: list[AssetConfig] = Field(default_factory=lambda: [AssetConfig()])
    market: MarketConfig = Field(default_factory=MarketConfig)
    savers: SaverConfig = Field(default_factory=SaverConfig)
    traders: TraderConfig = Field(default_factory=TraderConfig)
    institutions: InstitutionConfig = Field(default_factory=InstitutionConfig)
    regulator: RegulatorConfig = Field(default_factory=RegulatorConfig)
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    shock: ShockConfig = Field(default_factory=ShockConfig)
    stablecoin: StablecoinConfig = Field(default_factory=StablecoinConfig)
    exchanges: ExchangeConfig = Field(default_factory=ExchangeConfig)
    agencies: AgenciesConfig = Field(default_factory=AgenciesConfig)
    fiscal: FiscalConfig = Field(default_factory=FiscalConfig)
    outside: OutsideConfig = Field(default_factory=OutsideConfig)
    run: RunConfig = Field(default_factory=RunConfig)

    @model_validator(mode="after")
    def _cross_checks(self) -> Config:
        n_assets = len(self.assets)
        if n_assets < 1:
            raise _field_error("assets", [], "at least one asset")
        names = [a.name for a in self.assets]
        if len(set(names)) != n_assets:
            raise _field_error("assets.name", names, "distinct asset names")
        corr = self.market.correlation
        if len(corr) != n_assets or any(len(row) != n_assets for row in corr):
            raise _field_error("market.correlation", corr, f"a {n_assets}x{n_assets} matrix")
        if not _is_correlation(corr):
            raise _field_error(
                "market.correlation",
                corr,
                "a symmetric positive semi-definite matrix with ones on the diagonal",
            )
        if not any(a.kind == "coin" for a in self.assets):
            raise _field_error(
                "assets.kind", [a.kind for a in self.assets], "a list with at least one 'coin'"
            )
        for k, a in enumerate(self.assets):
            if a.kind == "stablecoin" and a.initial_price_usd != 1.0:
                raise _field_error(
                    f"assets.{k}.initial_price_usd", a.initial_price_usd, "1.0 for a stablecoin"
                )
        a = self.shock.asset
        coins = [n for n, asset in zip(names, self.assets, strict=True) if asset.kind == "coin"]
        if a is not None and a not in coins:
            raise _field_error("shock.asset", a, f"None or a coin's name ({', '.join(coins)})")
        x = self.exchanges
        if x.fail_day is not None and x.fail_exchange >= x.n_exchanges:
            raise _field_error(
                "exchanges.fail_exchange",
                x.fail_exchange,
                f"an index in 0..{x.n_exchanges - 1} (there are {x.n_exchanges} exchanges)"
                if x.n_exchanges
                else "unused: there are no exchanges (set exchanges.n_exchanges)",
            )
        if sum(a.kind == "stablecoin" for a in self.assets) > 1:
            raise _field_error(
                "assets.kind",
                [a.kind for a in self.assets],
                "at most one asset of kind 'stablecoin' (one issuer is modelled)",
            )
        menu = self.savers.menu
        if isinstance(menu, dict):
            unknown = [k for k in menu if k not in names]
            if unknown:
                raise _field_error(
                    "savers.menu",
                    menu,
                    f"weights of known assets only (unknown: {', '.join(unknown)}; "
                    f"allowed: {', '.join(names)})",
                )
        weights = self.menu_weights
        if (
            len(weights) != n_assets
            or any(not math.isfinite(w) or w < 0 for w in weights)
            or abs(sum(weights) - 1) > 1e-9
        ):
            raise _field_error(
                "savers.menu", menu, f"{n_assets} non-negative weight(s) summing to 1"
            )
        shares = self.traders.initial_shares
        if len(shares) != 3 or any(s < 0 for s in shares) or abs(sum(shares) - 1) > 1e-9:
            raise _field_error(
                "traders.initial_shares",
                shares,
                "3 non-negative shares (fundamentalist, chartist, noise) summing to 1",
            )
        if self.institutions.leverage_max < self.institutions.leverage_target:
            raise _field_error(
                "institutions.leverage_max",
                self.institutions.leverage_max,
                f"a value >= institutions.leverage_target ({self.institutions.leverage_target})",
            )
        if self.savers.retirement_age <= self.savers.entry_age:
            raise _field_error(
                "savers.retirement_age",
                self.savers.retirement_age,
                f"an age above savers.entry_age ({self.savers.entry_age})",
            )
        if self.network.topology == "graphml" and not self.network.graphml_path:
            raise _field_error(
                "network.graphml_path", None, "a GraphML file path when topology = 'graphml'"
            )
        k = self.shock.default_institution
        if k is not None and k >= self.n_institutions:
            raise _field_error(
                "shock.default_institution",
                k,
                f"an index in 0..{self.n_institutions - 1} (there are {self.n_institutions} "
                "institutions)"
                if self.n_institutions
                else "None (there are no institutions)",
            )
        return self

    @property
    def n_assets(self) -> int:
        return len(self.assets)

    @property
    def menu_weights(self) -> list[float]:
        """The savers' menu in asset order (fraction of the crypto allocation per asset)."""
        menu = self.savers.menu
        if isinstance(menu, dict):
            return [float(menu.get(a.name, 0.0)) for a in self.assets]
        return [float(w) for w in menu]

    @property
    def coin_cap_share(self) -> list[float]:
        """Each asset's share of the coins' market cap (0 for a stablecoin): how traders and
        institutions split a position over assets."""
        caps = [a.market_cap_usd if a.kind == "coin" else 0.0 for a in self.assets]
        return [c / sum(caps) for c in caps]

    @property
    def n_institutions(self) -> int:
        i = self.institutions
        return i.n_funds + i.n_lenders + i.n_market_makers

    # ---- construction from user input ------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        """Validate a nested dict (e.g. parsed TOML); raise `ConfigError` on the first problem."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(_describe(exc)) from None

    @classmethod
    def from_toml(cls, path: str | Path) -> Config:
        """Load a scenario from a TOML file (sections as in `Config`)."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"config file {str(path)!r}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {str(path)!r}: cannot be read ({exc})") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {str(path)!r}: not valid TOML ({exc})") from None
        return cls.from_dict(data)

    def with_overrides(self, overrides: dict[str, Any]) -> Config:
        """A copy with dotted-key overrides applied, e.g. {'savers.allocation': 0.03}."""
        data = self.model_dump()
        for key, value in overrides.items():
            _set_dotted(data, key, value)
        return Config.from_dict(data)

    def to_toml_dict(self) -> dict[str, Any]:
        """A TOML-serialisable dict (None values dropped: TOML has no null)."""
        return _drop_none(self.model_dump())


def parse_set_option(item: str) -> tuple[str, Any]:
    """Parse one `--set key=value`; the value is read as TOML (numbers, booleans, lists,
    quoted strings), falling back to a bare string."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected key=value, e.g. savers.allocation=0.03")
    key, raw = item.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"--set {item!r}: the key is empty")
    raw = raw.strip()
    if raw.lower() in {"none", "null"}:
        return key, None
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


# --------------------------------------------------------------------------------------
def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node: Any = data
    for depth, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(
                    f"{key} = {value!r}: {'.'.join(parts[: depth + 1])!r} is not an index "
                    f"in 0..{len(node) - 1}"
                )
            node = node[int(part)]
        elif isinstance(node, dict) and part in node and isinstance(node[part], dict | list):
            node = node[part]
        else:
            here = ".".join(parts[: depth + 1])
            if isinstance(node, dict) and part in node:
                raise ConfigError(f"{key} = {value!r}: {here!r} is a parameter, not a section")
            allowed = sorted(k for k, v in node.items() if isinstance(v, dict | list))
            raise ConfigError(
                f"{key} = {value!r}: unknown section {here!r}; allowed: {', '.join(allowed)}"
            )
    last = parts[-1]
    if isinstance(node, list):
        raise ConfigError(f"{key} = {value!r}: name a field of an element, e.g. assets.0.name")
    here = node.get(last) if isinstance(node, dict) else None
    # a mapping of weights by name (savers.menu) may also be given as a list in asset order;
    # pydantic then says whether the list fits the field
    weights = (
        isinstance(value, list)
        and isinstance(here, dict)
        and all(isinstance(v, int | float) for v in here.values())
    )
    if isinstance(here, dict) and not isinstance(value, dict) and not weights:
        raise ConfigError(
            f"{key} = {_show(value)}: {key!r} is a section, not a parameter; set one of its "
            f"parameters ({key}.NAME); allowed: {', '.join(sorted(node[last]))}"
        )
    if last not in node:
        raise ConfigError(
            f"{key} = {value!r}: unknown parameter; allowed in "
            f"{'.'.join(parts[:-1]) or 'the top level'}: {', '.join(sorted(node))}"
        )
    node[last] = value


def _drop_none(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _drop_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_drop_none(v) for v in obj]
    return obj


def _is_correlation(m: list[list[float]]) -> bool:
    import numpy as np

    a = np.asarray(m, dtype=float)
    if not np.all(np.isfinite(a)) or not np.allclose(a, a.T, atol=1e-9):
        return False
    if not np.allclose(np.diag(a), 1.0, atol=1e-9):
        return False
    return bool(np.linalg.eigvalsh(a).min() >= -1e-9)


class _CrossFieldError(ValueError):
    def __init__(self, field: str, value: Any, allowed: str) -> None:
        super().__init__(f"{field} = {value!r}: must be {allowed}")
        self.text = f"{field} = {value!r}: must be {allowed}"


def _field_error(field: str, value: Any, allowed: str) -> _CrossFieldError:
    return _CrossFieldError(field, value, allowed)


def _describe(exc: ValidationError) -> str:
    """One line for the first error: field path, offending value, what is allowed."""
    err = exc.errors()[0]
    ctx = err.get("ctx") or {}
    inner = ctx.get("error")
    if isinstance(inner, _CrossFieldError):
        return inner.text
    loc = ".".join(str(p) for p in err["loc"])
    value = err.get("input")
    kind = err["type"]
    if kind == "extra_forbidden":
        section = ".".join(str(p) for p in err["loc"][:-1])
        allowed = _allowed_fields(err["loc"][:-1])
        where = f"in [{section}]" if section else "at the top level"
        return f"{loc} = {value!r}: unknown parameter {where}; allowed: {allowed}"
    msg = err["msg"].removeprefix("Value error, ")
    if kind in ("model_type", "model_attributes_type", "dict_type") and loc:
        fields = _allowed_fields(err["loc"])
        return (
            f"{loc} = {value!r}: {loc!r} is a section, not a parameter; set one of its "
            f"parameters ({loc}.NAME); allowed: {fields}"
        )
    if kind in _BOUNDS and len(ctx) == 1:  # the bound as written: 1e+14, not 100000000000000
        bound = next(iter(ctx.values()))
        shown = f"{bound:g}" if isinstance(bound, float) else str(bound)
        msg = f"must be {_BOUNDS[kind]} {shown}"
    elif kind == "string_pattern_mismatch":
        msg = "must be letters, digits, '_' or '-' (it names columns and files)"
    elif kind == "finite_number":
        msg = "must be a finite number (not inf or nan)"
    elif kind == "literal_error" or msg.startswith("Input should be "):
        msg = "must be " + msg.removeprefix("Input should be ")
    return f"{loc} = {_show(value)}: {msg}"


_BOUNDS = {
    "less_than_equal": "less than or equal to",
    "less_than": "less than",
    "greater_than_equal": "greater than or equal to",
    "greater_than": "greater than",
}


def _show(value: Any) -> str:
    """A value as the user would write it: inf and nan bare, not as the strings 'inf'."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return repr(value)


def _allowed_fields(loc: tuple[Any, ...]) -> str:
    model: Any = Config
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return "?"
        ann = field.annotation
        args = getattr(ann, "__args__", None)
        model = args[0] if args and isinstance(args[0], type) else ann
    return ", ".join(sorted(model.model_fields))


def parameter_table() -> list[dict[str, Any]]:
    """Every parameter with its default, unit, meaning and source: for the docs and `--help`.

    Nested sections (the agencies) are walked; their defaults are those of `Config()`. A
    list of sections (assets, rules) shows its entries' parameters once, with the class
    default."""
    rows: list[dict[str, Any]] = []

    def walk(section: Any, prefix: str) -> None:
        cls = type(section)
        for name, f in cls.model_fields.items():
            value = getattr(section, name)
            if isinstance(value, Section):
                walk(value, f"{prefix}{name}.")
                continue
            if isinstance(value, list) and value and isinstance(value[0], Section):
                walk(type(value[0])(), f"{prefix}{name}.")
                continue
            extra = f.json_schema_extra or {}
            path = f"{prefix}{name}"
            rows.append(
                {
                    "parameter": path,
                    "default": value,
                    "unit": extra.get("unit", ""),
                    "meaning": f.description or "",
                    "source": AGENCY_SOURCES.get(path, extra.get("source", "")),
                }
            )

    walk(Config(), "")
    return rows


def parameter_markdown() -> str:
    """The parameter table as markdown (the ODD document embeds exactly this)."""
    lines = ["| parameter | default | unit | meaning | source |", "|---|---|---|---|---|"]
    for r in parameter_table():
        cells = [f"`{r['parameter']}`", str(r["default"]), r["unit"], r["meaning"], r["source"]]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)
