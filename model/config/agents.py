"""The agents' sections: 401(k) savers, retail traders, institutions."""

from __future__ import annotations

from typing import Literal

from crypto401k.model.config.base import P, Section


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
        0.0295,
        "1/day",
        "phi: share of equity a fundamentalist trades per unit log mispricing",
        "[Franke & Westerhoff 2012] DCA-HPM structure; bounded by 1000 (large values "
        "only saturate orders at the budget, which the tests use); estimated by "
        "simulated moments on Bitstamp BTC/USD 2014-11-28 to 2018-06-24 [Bitstamp "
        "2014-2020] (docs/estimation.md, commit 0300800): s.e. 0.013, 95% interval "
        "0.00493 to 0.0541, not identified by the moments",
        ge=0,
        le=1000,
    )
    chartist_reaction: float = P(
        0.271,
        "-",
        "chi: share of equity a chartist trades per unit of trend (EMA of returns)",
        "[Franke & Westerhoff 2012] structure; estimated by simulated moments on "
        "Bitstamp BTC/USD 2014-11-28 to 2018-06-24 [Bitstamp 2014-2020] "
        "(docs/estimation.md, commit 0300800): s.e. 0.081, 95% interval 0.113 to 0.429,"
        " not identified by the moments",
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
        0.01441,
        "1/sqrt(day)",
        "sigma_f: common daily noise in fundamentalists' demand",
        "[Franke & Westerhoff 2012] structural stochastic volatility; bounded by 1 "
        "(100% of equity a day); estimated by simulated moments on Bitstamp BTC/USD "
        "2014-11-28 to 2018-06-24 [Bitstamp 2014-2020] (docs/estimation.md, commit "
        "0300800): s.e. 0.0086, 95% interval -0.00244 to 0.0313, not identified by the "
        "moments",
        ge=0,
        le=1,
    )
    chartist_noise: float = P(
        0.08392,
        "1/sqrt(day)",
        "sigma_c: common daily noise in chartists' demand",
        "[Franke & Westerhoff 2012] structure; bounded by 1 (100% of equity a day); "
        "estimated by simulated moments on Bitstamp BTC/USD 2014-11-28 to 2018-06-24 "
        "[Bitstamp 2014-2020] (docs/estimation.md, commit 0300800): s.e. 0.028, 95% "
        "interval 0.0289 to 0.139, not identified by the moments",
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
        -0.4561,
        "-",
        "alpha_0: attractiveness of fundamentalism over chartism (negative: a predisposition "
        "to chartism)",
        "[Franke & Westerhoff 2012] estimate alpha_0 < 0; estimated by simulated "
        "moments on Bitstamp BTC/USD 2014-11-28 to 2018-06-24 [Bitstamp 2014-2020] "
        "(docs/estimation.md, commit 0300800): s.e. 0.14, 95% interval -0.739 to "
        "-0.173, not identified by the moments",
        ge=-10,
        le=10,
    )
    herding: float = P(
        1.93,
        "-",
        "alpha_n: weight of the neighbours' majority (herding)",
        "[Franke & Westerhoff 2012]; [Lux & Marchesi 1999]; estimated by simulated "
        "moments on Bitstamp BTC/USD 2014-11-28 to 2018-06-24 [Bitstamp 2014-2020] "
        "(docs/estimation.md, commit 0300800): s.e. 0.53, 95% interval 0.893 to 2.97, "
        "not identified by the moments",
        ge=0,
        le=20,
    )
    attention: float = P(
        0.3503,
        "-",
        "a big move draws trading: the day after a coin moves |r| beyond its calm daily "
        "volatility (`market.vol_reference_daily` scaled by the coin's fundamental volatility "
        "over the first asset's), every trader noise term in that coin is multiplied by "
        "1 + attention * (|r| / calm - 1)",
        "attention-driven trading by individual investors after large price moves "
        "[Barber & Odean 2008]; stated functional form (one day's memory, like an "
        "ARCH(1) term); 0 is off; estimated by simulated moments on Bitstamp BTC/USD "
        "2014-11-28 to 2018-06-24 [Bitstamp 2014-2020] (docs/estimation.md, commit "
        "0300800): s.e. 0.29, 95% interval -0.211 to 0.912, not identified by the "
        "moments",
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
        18.43,
        "-",
        "alpha_p: weight of squared log mispricing in favour of fundamentalism",
        "[Franke & Westerhoff 2012]'s estimate on the daily S&P 500 (until commit 0300800 it "
        "was 10, a value without a source); estimated jointly with the other switching "
        "parameters on Bitstamp BTC/USD 2014-11-28 to 2018-06-24 [Bitstamp 2014-2020] it is "
        "not identified (27, 95% interval -0.2 to 54.5: docs/estimation.md, "
        "results/estimate/with_misalignment), so it is held at the literature's value",
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
        "a failed or closed institution's place is taken by a new one of the same kind after "
        "this many days, with outside investors' money sized to the market it enters "
        "(`entry_equity_share` of its predecessor's day-0 equity, and a lender's deposits, "
        "times the coins' cap now over day 0) (None: never)",
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
