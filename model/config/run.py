"""The run's section: length, seed, burn-in, the divergence guard."""

from __future__ import annotations

from crypto401k.model.config.base import P, Section


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
    event_window_days: int = P(
        180,
        "days",
        "length of the window after the run's first scheduled event (shock, exchange failure, "
        "stablecoin reserve loss) over which the model records who panicked first, each "
        "holder's loss and what vanished: days event .. event + W - 1, cut at the run's end; "
        "an experiment's `window_days` sets it for its runs",
        "modelling choice: half a year, the experiments' default window, long enough for a "
        "crash's fall and the panic it sets off (recovery is measured to the run's end)",
        ge=1,
        le=365_000,
    )
