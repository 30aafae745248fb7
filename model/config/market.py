"""The market's sections: assets, price formation, shocks, the stablecoin, exchanges and the
outside market."""

from __future__ import annotations

from typing import Literal

from crypto401k.model.config.base import P, Section


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
        4.062,
        "USD of market cap per USD of net flow",
        "inelastic-markets multiplier M: a net flow of F dollars moves the log price by "
        "M*F/market_cap when depth is at its calm level",
        "[Gabaix & Koijen 2021] structure (M about 5 for US equities); estimated by "
        "simulated moments on Bitstamp BTC/USD 2014-11-28 to 2018-06-24 [Bitstamp "
        "2014-2020] (docs/estimation.md, commit 0300800): s.e. 1.3, 95% interval 1.43 "
        "to 6.7, not identified by the moments",
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
        "Y in impact = Y * sigma_daily * sqrt(|flow| / volume), sigma_daily the coin's calm "
        "daily volatility",
        "[Donier & Bonart 2015]: Y of order 1; "
        "bounded by 10, ten times the order of magnitude found",
        gt=0,
        le=10,
    )
    impact_permanent_share: float = P(
        0.4354,
        "fraction",
        "share of each day's impact that stays in the price; the rest decays (transient impact)",
        "bounded by [Bucci, Benzaquen, Lillo & Bouchaud 2019] (about half of a day's "
        "impact stays after 50 days) and [Donier & Bonart 2015] (uninformed Bitcoin "
        "flow's impact decays almost completely); held at its estimate by simulated moments "
        "on Bitstamp BTC/USD 2014-11-28 to 2018-06-24 [Bitstamp 2014-2020] before the "
        "traders' attention was added (docs/estimation.md, commit 4c8fc43): s.e. 0.18, 95% "
        "interval 0.0734 to 0.797, wider than its box, so not identified and no longer "
        "estimated",
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
        "gamma: market-maker depth in a coin is divided by 1 + gamma*max(0, vol/calm - 1), "
        "with calm the coin's calm daily volatility (`market.vol_reference_daily` scaled by "
        "its fundamental volatility over the first asset's)",
        "liquidity spirals [Brunnermeier & Pedersen 2009]; stated functional form",
        ge=0,
        le=20,
    )
    vol_reference_daily: float = P(
        0.04,
        "1/sqrt(day)",
        "the first asset's calm daily volatility: its depth is at its calm level below it; "
        "each other coin's calm level is this scaled by its fundamental volatility over the "
        "first asset's (depth, the square-root law's sigma, attention, margins)",
        "daily std 0.040 of Bitcoin's returns [Bitstamp 2014-2020] (docs/calibration.md); "
        "bounded by 1 (100% a day), 25x Bitcoin's",
        gt=0,
        le=1,
    )
    jump_rate_annual: float = P(
        6.447,
        "1/year",
        "rate of news jumps in the fundamentals: on a jump day every coin's log fundamental "
        "(and so its price that day) moves by one common standard normal draw times "
        "`jump_size` (scaled per coin by its fundamental volatility over the first asset's)",
        "the box's upper end: the series has 49 days in 1,864 (9.6 a year) beyond five "
        "robust standard deviations, an upper bound; estimated by simulated moments on "
        "Bitstamp BTC/USD 2014-11-28 to 2018-06-24 [Bitstamp 2014-2020] "
        "(docs/estimation.md, commit 0300800): s.e. 5.2, 95% interval -3.81 to 16.7, "
        "not identified by the moments",
        ge=0,
        le=365,
    )
    jump_size: float = P(
        0.1068,
        "log",
        "standard deviation of a news jump in the first asset's log fundamental",
        "the box's upper end: those days' moves have a standard deviation of 0.146; "
        "estimated by simulated moments on Bitstamp BTC/USD 2014-11-28 to 2018-06-24 "
        "[Bitstamp 2014-2020] (docs/estimation.md, commit 0300800): s.e. 0.028, 95% "
        "interval 0.0518 to 0.162, not identified by the moments",
        ge=0,
        le=2,
    )
    jump_branching: float = P(
        0.0,
        "fraction",
        "self-excitation of news jumps: the expected number of later jumps that one jump "
        "triggers (the branching ratio of a discrete-time Hawkes process); the long-run "
        "rate stays `jump_rate_annual`, a share `jump_branching` of jumps being triggered",
        "news arrives in clusters: jumps in returns excite later jumps [Ait-Sahalia, "
        "Cacho-Diaz & Laeven 2015]; 0 is independent (Poisson) jumps; below 1 so the "
        "process is stationary",
        ge=0,
        lt=1,
    )
    jump_halflife_days: float = P(
        2.0,
        "days",
        "half-life of the extra jump chance that a jump adds (the Hawkes kernel's decay)",
        "short-lived excitation, days [Ait-Sahalia, Cacho-Diaz & Laeven 2015]; inert while "
        "`jump_branching` is 0",
        gt=0,
        le=365,
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
        "[Gabaix & Koijen 2021]: aggregate demand elasticity about 0.2, the inverse of their "
        "multiplier of about 5 for US equities (`market.impact_multiplier`, estimated on "
        "Bitcoin, is kept apart)",
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


def _is_correlation(m: list[list[float]]) -> bool:
    import numpy as np

    a = np.asarray(m, dtype=float)
    if not np.all(np.isfinite(a)) or not np.allclose(a, a.T, atol=1e-9):
        return False
    if not np.allclose(np.diag(a), 1.0, atol=1e-9):
        return False
    return bool(np.linalg.eigvalsh(a).min() >= -1e-9)
