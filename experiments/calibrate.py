"""The calibration search: a grid over the traders' switching and trend parameters, scored by
the method-of-simulated-moments distance of the no-401(k) baseline to Bitcoin.

    crypto401k calibrate [--seeds N] [--years Y] [--workers K]

Every grid point runs the same seeds (common random numbers), so the points differ only in
their parameters. The objective is `experiments.validate.msm_distance` of the seed-averaged
moments, weighted by the inverse bootstrap covariance of Bitcoin's moments. The result and how
it was used are in docs/calibration.md.

The failure news (second part): `FAILURE_EVENTS` holds seven exchange failures with their cited
losses, caps and Bitcoin's reactions; `fit_failure_news` fits the concave news law on them
(`fit_power_law`), and `failure_week_check` runs the model's own week after a failure.
`python -m crypto401k.experiments.calibrate [SEEDS]` prints both (docs/calibration.md).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import partial

import numpy as np
from crypto401k.experiments.validate import (
    MSM_MOMENTS,
    baseline_run,
    bootstrap_moment_cov,
    check_sweep,
    map_seeds,
    msm_distance,
)
from crypto401k.model import metrics as mt
from crypto401k.model.agents.exchange import news_fall
from crypto401k.model.data import load_btc_close
from scipy.optimize import minimize_scalar

GRID = {
    "traders.predisposition": [-0.5, -0.3, -0.1],
    "traders.chartist_reaction": [0.25, 0.5, 1.0],
}


def search(seeds: int, years: float, workers: int) -> list[dict]:
    """Score every grid point; rows sorted by MSM distance (best first)."""
    check_sweep(seeds, years, workers)
    _, close = load_btc_close()
    real = mt.stylized_facts(close)
    real_m = np.array([real[k] for k in MSM_MOMENTS])
    cov = bootstrap_moment_cov(mt.log_returns(close))
    rows = []
    for values in itertools.product(*GRID.values()):
        point = dict(zip(GRID, values, strict=True))
        runs = map_seeds(partial(baseline_run, overrides=point), range(seeds), years, workers)
        moments = np.array([[run["facts"][k] for k in MSM_MOMENTS] for run in runs])
        mean = np.nanmean(moments, axis=0)
        rows.append(
            {
                **point,
                "msm_distance": msm_distance(mean, real_m, cov),
                **dict(zip(MSM_MOMENTS, mean.tolist(), strict=True)),
            }
        )
    return sorted(rows, key=lambda r: r["msm_distance"])


def format_rows(rows: list[dict]) -> str:
    keys = [*GRID, "msm_distance", *MSM_MOMENTS]
    short = [k.split(".")[-1] for k in keys]
    lines = ["| " + " | ".join(short) + " |", "|" + "---|" * len(keys)]
    for r in rows:
        lines.append("| " + " | ".join(f"{r[k]:.3g}" for k in keys) + " |")
    return "\n".join(lines)


# ---- an exchange failure's news: a concave law fitted on seven failures --------------------
@dataclass(frozen=True)
class FailureEvent:
    """One exchange failure or hack: what was lost, against what market, and how Bitcoin
    moved. `week_return` is the cited reaction, used only where the shipped Bitstamp series
    does not cover `day` (before 2014-11-28 or after 2020-01-17)."""

    name: str
    day: str  # first day the loss was public (ISO date)
    lost_usd: float  # USD lost by customers, at the time's prices
    cap_usd: float  # market cap of all coins on the eve (USD)
    week_return: float | None  # cited Bitcoin reaction (fraction), None: from Bitstamp
    window: str  # what the reaction measures
    sources: str  # full citations of lost_usd, cap_usd and week_return


# Every number below is quoted from the source named beside it; "the eve" is the day before
# `day`. A cap quoted on another day is scaled to the eve by Bitcoin's price (all coins taken
# to move with Bitcoin), stated in the row.
FAILURE_EVENTS: tuple[FailureEvent, ...] = (
    FailureEvent(
        "Mt. Gox",
        "2014-02-07",
        465e6,
        12_377_000 * 465e6 / 850_000,
        -0.38,
        "Bitstamp, 7 to 24 Feb 2014 (17 days: withdrawals halted to the exchange going dark)",
        "lost: 850,000 BTC worth about $450-480M (midpoint $465M): Bloomberg, 'Mt. Gox "
        "exchange files for bankruptcy', 28 Feb 2014, "
        "http://www.bloomberg.com/news/2014-02-28/mt-gox-exchange-files-for-bankruptcy.html; "
        "cap: Bitcoin's alone (other coins left out, so the share lost is an upper bound), "
        "12,035,000 BTC on 25 Nov 2013 (Bitcoin Magazine, 'Bitcoin Breaches All-Time High "
        "Market Cap (In Several Ways)', Dec 2016, https://bitcoinmagazine.com/articles/"
        "bitcoin-breaches-all-time-high-market-cap-in-several-ways-1482423701/) plus 25 BTC "
        "x 144 blocks a day to 28 Feb 2014 = 12,377,000 BTC, at the loss's price "
        "($465M / 850,000 BTC); reaction: $760 to $470 on Bitstamp, 'The Mt. Gox Bitcoin "
        "Exchange Has Gone Offline', fanatically.org, 24 Feb 2014, https://www.fanatically.org/"
        "blog/2014/2/24/the-mt-gox-bitcoin-exchange-has-gone-offline",
    ),
    FailureEvent(
        "Bitfinex hack",
        "2016-08-02",
        72e6,
        14.37e9 * 607.61 / 700.0,
        None,
        "Bitstamp closes, 1 to 8 Aug 2016",
        "lost: 119,756 BTC at Bitfinex's settlement price $604.06 = $72M: Yuikee newsletter, "
        "'Bitfinex hack', 3-5 Aug 2016, http://articles.yuikee.com.hk/newsletter/2016/08/a.html;"
        " cap: all coins $14.37B in mid-June 2016 at Bitcoin's $700 high (CoinDesk, "
        "'Rethinking Bitcoin's $10 Billion Market Cap', July 2016, https://www.greenough.biz/"
        "clients-in-the-news-archive/2016/7/virtusa-rethinking-bitcoins-10-billion-market-cap"
        ".html), scaled to the eve's Bitstamp close $607.61",
    ),
    FailureEvent(
        "Coincheck",
        "2018-01-26",
        533e6,
        500e9,
        None,
        "Bitstamp closes, 25 Jan to 1 Feb 2018",
        "lost: 523M XEM, 58 billion yen, about $533M: Coinspeaker, 'Japanese Exchange "
        "Coincheck Says Hackers Stole Over $400M in NEM Cryptocurrency', 27 Jan 2018, "
        "https://www.coinspeaker.com/2018/01/27/japanese-exchange-coincheck-says-hackers-stole"
        "-400m-nem-cryptocurrency/; cap: 'over $500 billion', Tom's Hardware, 'Coincheck "
        "exchange $500 million heist', 26 Jan 2018, https://www.tomshardware.com/news/"
        "coincheck-exchange-500-million-heist,36412.html",
    ),
    FailureEvent(
        "BitGrail",
        "2018-02-08",
        170e6,
        517.2e9 * 7588.01 / 10237.3,
        None,
        "Bitstamp closes, 7 to 14 Feb 2018",
        "lost: 17 million Nano, $170M (the exchange then declared insolvency): Digital Trends "
        "reporting the Wall Street Journal, 'BitGrail loses $170 million in Nano', Feb 2018, "
        "https://digitaltrends.com/?p=1316490; cap: all coins $517.2B on 1 Feb 2018 at "
        "Bitcoin's $10,237.3 (Coinspeaker and ICOBox, 'Cryptocurrency Market Analysis: February "
        "2018', 6 Mar 2018, https://www.coinspeaker.com/2018/03/06/cryptocurrency-market-"
        "analysis-february-2018/), scaled to the eve's Bitstamp close $7,588.01",
    ),
    FailureEvent(
        "QuadrigaCX",
        "2019-01-31",
        190e6,
        120.5e9 * 3437.35 / 3570.0,
        None,
        "Bitstamp closes, 30 Jan to 6 Feb 2019",
        "lost: C$250M (US$190M) owed to customers, affidavit of 31 Jan 2019: FXStreet, "
        "'QuadrigaCX loses $190 million of their customer's money', 1 Feb 2019, "
        "https://www.fxstreet.com/cryptocurrencies/news/quadrigacx-loses-190-million-of-their-"
        "customers-money-as-they-lose-access-to-their-cold-storage-wallets-following-founders-"
        "death-201902012337; cap: $120.5B on 13 Feb 2019 at Bitcoin's $3,570 (CryptoIQ, "
        "'Market Analysis: Total Crypto Market Cap Drops $1 Billion', 13 Feb 2019, "
        "https://cryptoiq.co/market-analysis-total-crypto-market-cap-drops-1-billion-with-most-"
        "major-cryptocurrencies-in-the-red-bitcoin-btc-continues-to-slowly-decline-below-3600/)"
        ", scaled to the eve's Bitstamp close $3,437.35",
    ),
    FailureEvent(
        "FTX",
        "2022-11-07",
        8.9e9,
        736e9 + 183e9,
        -0.22,
        "the seven days through 13 Nov 2022 (CoinDesk)",
        "lost: $8.9B customer shortfall at petition-date prices: WSJ Pro Bankruptcy via ABI, "
        "Mar 2023, https://dev.abi.org/node/363006; cap ($736B on 9 Nov after $183B lost "
        "that month) and reaction (-22%): CoinDesk, 'FTX Collapse Leaves Total Crypto Market "
        "Cap Under $800B, Close to 2022 Low', 17 Nov 2022, https://www.coindesk.com/markets/"
        "2022/11/17/ftx-collapse-leaves-total-crypto-market-cap-under-800b-close-to-2022-low/",
    ),
    FailureEvent(
        "Bybit hack",
        "2025-02-21",
        1.46e9,
        3.37e12,
        -0.16,
        "the week to 27-28 Feb 2025 (Reuters)",
        "lost: about $1.46B of ETH: Bitcoin Suisse, 'The Weekly Wrap - 28 February 2025', "
        "https://bitcoinsuisse.com/industry-blog/the-weekly-wrap-28-february-2025; cap: "
        "$3.37T before the week's fall to $3.17T (Nairametrics via News.Az, 22 Feb 2025, "
        "quoted at https://smartmoneymindset.com/?p=1899); reaction: 'fallen 16% in the past "
        "week', R. Wee and B. Riley, 'Bitcoin set for biggest weekly fall since FTX collapse "
        "in 2022', Reuters, 28 Feb 2025, https://www.investing.com/news/forex-news/bitcoin-"
        "slides-more-than-5-to-lowest-level-since-november-11-3898526",
    ),
)
WEEK_DAYS = 7  # a reaction runs from the eve's close to the close seven days later


def bitstamp_week(day: str) -> float | None:
    """Bitcoin's return from the close of the eve of `day` to the close seven days later
    on the shipped Bitstamp series, or None where the series does not cover both closes."""
    dates, close = load_btc_close()
    eve = np.datetime64(day, "D") - np.timedelta64(1, "D")
    at = {d: c for d, c in zip(dates.tolist(), close.tolist(), strict=True)}
    end = eve + np.timedelta64(WEEK_DAYS, "D")
    a, b = at.get(eve.item()), at.get(end.item())
    return None if a is None or b is None else b / a - 1.0


def fit_power_law(loss: np.ndarray, fall: np.ndarray) -> tuple[float, float]:
    """Least-squares fit of fall = scale x loss^exponent (shapes (n,), fractions), with the
    exponent held in (0, 1] so the law is concave. For each exponent the best scale is
    closed-form (sum fall x loss^b / sum loss^2b); the exponent minimizes the profiled sum
    of squares (bounded Brent search: deterministic). Returns (scale, exponent)."""
    loss = np.asarray(loss, dtype=float)
    fall = np.asarray(fall, dtype=float)

    def profile(b: float) -> tuple[float, float]:
        f = loss**b
        scale = float(f @ fall / (f @ f))
        return float(((fall - scale * f) ** 2).sum()), scale

    best = minimize_scalar(
        lambda b: profile(b)[0], bounds=(1e-3, 1.0), method="bounded", options={"xatol": 1e-9}
    )
    exponent = float(best.x)
    return profile(exponent)[1], exponent


def failure_news_events() -> list[dict]:
    """The events with their share of the coins' cap lost and Bitcoin's reaction (from the
    Bitstamp series where it covers the week, else the cited number)."""
    rows = []
    for e in FAILURE_EVENTS:
        week = bitstamp_week(e.day)
        rows.append(
            {
                "event": e.name,
                "day": e.day,
                "lost_usd": e.lost_usd,
                "cap_usd": e.cap_usd,
                "loss": e.lost_usd / e.cap_usd,
                "week": week if week is not None else e.week_return,
                "from_bitstamp": week is not None,
                "window": e.window,
            }
        )
    return rows


def fit_failure_news() -> dict:
    """The news law fitted on `FAILURE_EVENTS`: scale and exponent by least squares on the
    falls (-week return), the cap at the largest observed fall, each event's prediction."""
    rows = failure_news_events()
    loss = np.array([r["loss"] for r in rows])
    fall = -np.array([r["week"] for r in rows])
    scale, exponent = fit_power_law(loss, fall)
    cap = float(fall.max())
    for r in rows:
        r["predicted"] = -news_fall(r["loss"], scale, exponent, cap)
    return {"scale": scale, "exponent": exponent, "cap": cap, "events": rows}


def failure_news_table(fit: dict | None = None) -> str:
    """Markdown table of the events, their data and the law's prediction (docs/calibration.md
    carries it verbatim; a test checks that)."""
    fit = fit if fit is not None else fit_failure_news()
    lines = [
        "| event | day | USD lost | coins' cap | share lost | Bitcoin's week | law |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in fit["events"]:
        src = "Bitstamp" if r["from_bitstamp"] else "cited"
        lines.append(
            f"| {r['event']} | {r['day']} | ${r['lost_usd'] / 1e9:.3g}B | "
            f"${r['cap_usd'] / 1e9:,.4g}B | {100 * r['loss']:.3f}% | "
            f"{100 * r['week']:+.1f}% ({src}) | {100 * r['predicted']:+.1f}% |"
        )
    return "\n".join(lines)


def failure_week(
    seed: int, exchange: int, day: int = 365, overrides: dict | None = None
) -> tuple[float, float]:
    """(USD lost / coins' cap, Bitcoin's return over the 7 days from the eve) when
    `exchange` (0-based rank by share) fails on `day` of the four-asset scenario with the
    scenario's news law (or `overrides`), no other failure and no regulator."""
    from crypto401k.experiments.outcomes import build_model

    m = build_model(
        {
            "scenario": "four_assets",
            "regulator.enabled": False,
            "exchanges.failure_rate_annual": 0.0,
            "exchanges.fail_day": day,
            "exchanges.fail_exchange": exchange,
            "savers.allocation": 0.03,
            "run.steps": day + WEEK_DAYS + 1,
            **(overrides or {}),
        },
        seed,
    )
    m.run_for(day)
    coins = ~m.market.pegged
    cap = float(m.market.price[coins] @ m.market.supply[coins])
    eve = float(m.market.price[0])
    m.run_for(WEEK_DAYS + 1)
    week = float(m.datacollector.get_model_vars_dataframe()["price"].iloc[day + WEEK_DAYS])
    return float(m.exchanges.lost_usd[exchange] / cap), week / eve - 1.0


def failure_week_check(seeds: int, exchanges: tuple[int, ...] = (0, 4, 19)) -> list[dict]:
    """The model's own week after a failure of each venue (largest, fifth, smallest), mean
    over `seeds`, beside the news law's fall at the same loss: the model adds its customers'
    panic and fire sales to the news, and this shows by how much."""
    from crypto401k.model import scenarios

    x = scenarios.load("four_assets").exchanges
    rows = []
    for k in exchanges:
        lost, week = np.array([failure_week(s, k) for s in range(seeds)]).T
        rows.append(
            {
                "exchange": k,
                "loss": float(lost.mean()),
                "law": -news_fall(float(lost.mean()), x.news_scale, x.news_exponent, x.news_cap),
                "model_week": float(week.mean()),
                "model_week_sd": float(week.std(ddof=1)) if seeds > 1 else float("nan"),
            }
        )
    return rows


if __name__ == "__main__":  # python -m crypto401k.experiments.calibrate [SEEDS]
    import sys

    fit = fit_failure_news()
    print(f"scale {fit['scale']:.4f}  exponent {fit['exponent']:.4f}  cap {fit['cap']:.2f}")
    print(failure_news_table(fit))
    for r in failure_week_check(int(sys.argv[1]) if len(sys.argv) > 1 else 4):
        print(r)
