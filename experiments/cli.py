"""The `crypto401k` command line.

    crypto401k run [--config FILE] [--steps N] [--seed S] [--out DIR] [--set key=value ...]
    crypto401k validate [--seeds N] [--years Y] [--workers K] [--assets] [--json] [--out DIR]
    crypto401k calibrate [--seeds N] [--years Y] [--workers K]
    crypto401k params [--markdown]
    crypto401k experiment NAME|SPEC.toml [--seeds N] [--quick] [--workers K]
                          [--scheduler ADDRESS] [--out DIR] [--retry-failed] [--wait] [--quiet]
                          [--no-figures]
                          [--param-draws N [--estimate FILE] [--draw-seeds S]]

A user's mistake (bad parameter, flag, unreadable file, an output folder that cannot be
written) prints one line naming the field, its value and what is allowed, exits with status 2,
and writes nothing; every check runs before the first simulation. A failure of the machine or
the cluster (out of memory, a Dask cluster without workers) is one line and exit status 1.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Any

from crypto401k.model import scenarios
from crypto401k.model.config import (
    Config,
    ConfigError,
    parameter_markdown,
    parameter_table,
    parse_set_option,
)
from crypto401k.model.memory import check_fits
from crypto401k.model.policy import RUNG_NAMES

EXIT_USAGE = 2
# the library names a bad argument by its parameter; the command line by its flag
FLAGS = {
    "seeds": "--seeds",
    "years": "--years",
    "workers": "--workers",
    "out": "--out",
    "scheduler": "--scheduler",
    "data": "--data",
    "scenario": "--config",
    "budget": "--budget",
    "holdout": "--holdout",
    "param_draws": "--param-draws",
    "estimate": "--estimate",
    "draw_seeds": "--draw-seeds",
}


def as_flags(message: str, flags: dict[str, str] = FLAGS) -> str:
    """A library message ("seeds = 0: ...") as the command line says it ("--seeds = 0: ...")."""
    name, sep, rest = message.partition(" = ")
    return f"{flags[name]}{sep}{rest}" if sep and name in flags else message


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"crypto401k: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="crypto401k", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="simulate one scenario and write its time series")
    run.add_argument(
        "--config",
        help="a built-in scenario (btc_only, four_assets, agencies, upper_bound) or a scenario "
        "TOML file (default: btc_only, exactly the code's defaults)",
    )
    run.add_argument("--steps", help="days to simulate (run.steps; default 3650)")
    run.add_argument("--seed", help="random seed (run.seed; default 42)")
    run.add_argument("--out", default="runs/latest", help="output directory (default: %(default)s)")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a parameter, e.g. --set savers.allocation=0.03 (repeatable)",
    )
    run.add_argument("--quiet", action="store_true", help="print nothing but errors")

    val = sub.add_parser("validate", help="stylized facts of the no-401(k) baseline vs Bitcoin")
    val.add_argument("--seeds", default="30", help="seeds to run (default: %(default)s)")
    val.add_argument("--years", default="5", help="years per seed (default: %(default)s)")
    val.add_argument("--workers", default="2", help="local processes (default: %(default)s)")
    val.add_argument(
        "--data",
        dest="btc_data",
        help="BTC CSV with date,close columns (default: the shipped one)",
    )
    val.add_argument(
        "--assets",
        action="store_true",
        help="also check several assets (BTC, ETH, a DeFi basket) against BTC, ETH, LTC",
    )
    val.add_argument(
        "--assets-data",
        help="CSV with date,btc_close,eth_close,ltc_close columns (default: the shipped one)",
    )
    val.add_argument("--out", default="runs/validate", help="figures folder (default: %(default)s)")
    val.add_argument("--json", action="store_true", help="print one JSON object, no table")

    cal = sub.add_parser("calibrate", help="grid search of trader parameters by MSM distance")
    cal.add_argument("--seeds", default="8", help="seeds per grid point (default: %(default)s)")
    cal.add_argument("--years", default="5", help="years per seed (default: %(default)s)")
    cal.add_argument("--workers", default="2", help="local processes (default: %(default)s)")

    est = sub.add_parser(
        "estimate", help="estimate the traders' and impact parameters by simulated moments"
    )
    est.add_argument(
        "--budget", default="60", help="candidate points to run (default: %(default)s)"
    )
    est.add_argument("--seeds", default="4", help="seeds per point (default: %(default)s)")
    est.add_argument("--workers", default="2", help="local processes (default: %(default)s)")
    est.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://10.0.0.5:8786")
    est.add_argument("--out", default="runs/estimate", help="output folder (default: %(default)s)")
    est.add_argument(
        "--years", help="years per simulated path (default: as long as the estimation sample)"
    )
    est.add_argument(
        "--data",
        dest="btc_data",
        help="BTC CSV with date,close columns; with --assets, date,btc_close,eth_close,"
        "ltc_close (default: the shipped one)",
    )
    est.add_argument(
        "--assets",
        action="store_true",
        help="the second stage: ETH's and the DeFi basket's volatilities and the shock "
        "correlations of the four_assets scenario, on BTC, ETH and LTC",
    )
    est.add_argument(
        "--holdout",
        default="0.3",
        help="share of the series, at its end, kept for the out-of-sample check (0: none; "
        "default: %(default)s)",
    )
    est.add_argument(
        "--discard-years",
        default="0",
        help="years each simulated path runs before its moments are taken (0: from the "
        "model's calm start; a few years: from the regime mix it settles in; default: "
        "%(default)s)",
    )
    est.add_argument("--quiet", action="store_true", help="no progress bar, no table")

    exp = sub.add_parser(
        "experiment", help="run (or resume) a sweep: a built-in experiment or a spec file"
    )
    from crypto401k.experiments.spec import builtin_names

    exp.add_argument(
        "spec", help=f"a built-in experiment ({', '.join(builtin_names())}) or a .toml"
    )
    exp.add_argument("--seeds", help="seeds per point (default: the spec's)")
    exp.add_argument("--quick", action="store_true", help="the spec's small CI-sized version")
    exp.add_argument("--workers", default="2", help="local processes (default: %(default)s)")
    exp.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://10.0.0.5:8786")
    exp.add_argument(
        "--out",
        help="output folder (default: results/NAME, or runs/experiments/NAME-quick with --quick)",
    )
    exp.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    exp.add_argument(
        "--retry-failed", action="store_true", help="run again the runs recorded as failed"
    )
    exp.add_argument(
        "--wait",
        action="store_true",
        help="if another sweep is writing the same folder, wait for it instead of exiting",
    )
    exp.add_argument(
        "--no-figures",
        action="store_true",
        help="write the summary's tables without drawing its figures (a few seconds less)",
    )
    exp.add_argument(
        "--param-draws",
        help="also run the grid at N draws of the estimated parameters (from the estimate's "
        "uncertainty) and report how each answer moves across them",
    )
    exp.add_argument(
        "--estimate",
        help="the estimate.json the draws come from (default: results/estimate/estimate.json)",
    )
    exp.add_argument(
        "--draw-seeds", help="seeds per draw: the first S of the experiment's (default: all)"
    )

    params = sub.add_parser("params", help="list every parameter: default, unit, meaning, source")
    params.add_argument("--markdown", action="store_true", help="as a markdown table")
    return parser


def load_config(
    path: str | None, steps: str | None, seed: str | None, overrides: list[str]
) -> Config:
    """The scenario (a built-in name, a file, or the default), with CLI overrides applied."""
    cfg = Config() if path is None else scenarios.load(path)
    items: dict[str, Any] = dict(parse_set_option(item) for item in overrides)
    if steps is not None:
        items["run.steps"] = parse_set_option(f"run.steps={steps}")[1]
    if seed is not None:
        items["run.seed"] = parse_set_option(f"run.seed={seed}")[1]
    return cfg.with_overrides(items) if items else cfg


def cmd_run(args: argparse.Namespace) -> int:
    from crypto401k.experiments.run import (
        check_out_location,
        prepare_out_dir,
        simulate,
        write_outputs,
    )

    cfg = load_config(args.config, args.steps, args.seed, args.overrides)
    check_fits(cfg)
    out = check_out_location(args.out)  # before the simulation, not after it
    prepare_out_dir(out)
    ts, summary = simulate(cfg)
    write_outputs(out, cfg, ts, summary)
    if not args.quiet:
        print(format_summary(summary, out))
    if not summary["books"]["ok"]:  # a model bug: the outputs stay for inspection
        sys.stderr.write(
            f"crypto401k: error: the books do not balance ({', '.join(summary['books']['failed'])}"
            f"); see {out}/summary.json\n"
        )
        return 1
    return 0


def _number(flag: str, raw: str, kind: type) -> Any:
    try:
        value = kind(raw)
    except ValueError:
        article = "an integer" if kind is int else "a number"
        raise ConfigError(f"{flag} = {raw!r}: must be {article}") from None
    if not math.isfinite(value):
        raise ConfigError(f"{flag} = {raw}: must be a finite number (not inf or nan)")
    return value


def _sweep_args(args: argparse.Namespace) -> tuple[int, float, int]:
    """--seeds, --years, --workers as numbers, their ranges checked."""
    from crypto401k.experiments.validate import check_sweep

    sizes = (
        _number("--seeds", args.seeds, int),
        _number("--years", args.years, float),
        _number("--workers", args.workers, int),
    )
    check_sweep(*sizes, typed={"seeds": args.seeds, "years": args.years, "workers": args.workers})
    return sizes


def cmd_validate(args: argparse.Namespace) -> int:
    import json

    from crypto401k.experiments.run import check_out_location
    from crypto401k.experiments.validate import (
        format_assets_table,
        format_table,
        read_assets_data,
        read_btc_data,
        validate,
        validate_assets,
        write_figures,
    )

    # everything the user gives is checked before the first run
    sizes = _sweep_args(args)
    read_btc_data(args.btc_data)
    if args.assets:
        try:
            read_assets_data(args.assets_data)
        except ConfigError as exc:
            raise ConfigError(as_flags(str(exc), {"data": "--assets-data"})) from None
    out = check_out_location(args.out, inside=True)
    result, runs, real_r = validate(*sizes, args.btc_data)
    if args.assets:
        result["several_assets"] = validate_assets(*sizes, args.assets_data)
    files = write_figures(out, runs, real_r)
    if args.json:
        print(json.dumps(result))
    else:
        print(format_table(result))
        if args.assets:
            print()
            print(format_assets_table(result["several_assets"]))
        print(f"figures: {', '.join(str(f) for f in files)}")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from crypto401k.experiments.calibrate import format_rows, search

    sizes = _sweep_args(args)
    print(format_rows(search(*sizes)))
    return 0


def cmd_estimate(args: argparse.Namespace) -> int:
    from crypto401k.experiments.estimate import (
        MAX_DISCARD_YEARS,
        check_estimate,
        format_table,
        run_estimate,
    )
    from crypto401k.experiments.run import check_out_location
    from crypto401k.experiments.sweep import connect
    from crypto401k.experiments.validate import check_sweep, read_assets_data, read_btc_data

    # everything the user gives is checked before the first run
    budget = _number("--budget", args.budget, int)
    seeds = _number("--seeds", args.seeds, int)
    workers = _number("--workers", args.workers, int)
    holdout = _number("--holdout", args.holdout, float)
    discard_years = _number("--discard-years", args.discard_years, float)
    if not 0 <= discard_years <= MAX_DISCARD_YEARS:
        raise ConfigError(
            f"--discard-years = {args.discard_years}: must be a number of years from 0 to "
            f"{MAX_DISCARD_YEARS}"
        )
    years = 5.0 if args.years is None else _number("--years", args.years, float)
    check_sweep(
        seeds,
        years,
        workers,
        typed={"seeds": args.seeds, "years": args.years or "5", "workers": args.workers},
    )
    if args.assets:  # the days on which every coin has a close
        import numpy as np

        closes = read_assets_data(args.btc_data)
        close = closes[np.isfinite(closes).all(axis=1)]
    else:
        _, close = read_btc_data(args.btc_data)
    check_estimate(budget, holdout, len(close), {"budget": args.budget, "holdout": args.holdout})
    out = check_out_location(args.out)
    client = connect(args.scheduler) if args.scheduler else None
    try:
        result = run_estimate(
            close,
            out,
            budget=budget,
            seeds=seeds,
            workers=workers,
            holdout=holdout,
            days=None if args.years is None else round(365 * years),
            client=client,
            progress=not args.quiet,
            data_label=args.btc_data
            or ("shipped Bitstamp BTC, ETH, LTC" if args.assets else "shipped Bitstamp BTC/USD"),
            kind="assets" if args.assets else "btc",
            discard=round(365 * discard_years),
        )
    except KeyboardInterrupt:
        sys.stderr.write(
            "crypto401k: interrupted; finished runs are kept; run the same command to resume\n"
        )
        return 130
    finally:
        if client is not None:
            client.close()
    if not args.quiet:
        print(format_table(result))
        print(f"wrote {out}/estimate.json, {out}/estimate.md")
    return 0


def cmd_experiment(args: argparse.Namespace) -> int:
    from crypto401k.experiments.experiment import run_experiment

    seeds = None if args.seeds is None else _number("--seeds", args.seeds, int)
    workers = _number("--workers", args.workers, int)
    draws = None if args.param_draws is None else _number("--param-draws", args.param_draws, int)
    draw_seeds = None if args.draw_seeds is None else _number("--draw-seeds", args.draw_seeds, int)
    try:
        result = run_experiment(
            args.spec,
            seeds=seeds,
            quick=args.quick,
            workers=workers,
            scheduler=args.scheduler,
            out=args.out,  # None: the default folder; '' is refused, not taken as None
            progress=not args.quiet,
            retry_failed=args.retry_failed,
            wait=args.wait,
            param_draws=draws,
            estimate=args.estimate,
            draw_seeds=draw_seeds,
            figures=not args.no_figures,
        )
    except KeyboardInterrupt:
        sys.stderr.write(
            "crypto401k: interrupted; finished runs are kept; run the same command to resume\n"
        )
        return 130
    if not args.quiet:
        n, failed = len(result.runs), result.failures
        print(f"{n - failed} runs ok, {failed} failed ({result.wall_time_s:.0f} s)")
        print(result.answer)
        if result.robustness:
            print(result.robustness)
        print(f"wrote {result.out}/: {', '.join(f.name for f in result.files)}")
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    rows = parameter_table()
    if args.markdown:
        print(parameter_markdown())
    else:
        for r in rows:
            print(f"{r['parameter']} = {r['default']!r} [{r['unit']}]: {r['meaning']}")
    return 0


def _usd(x: float) -> str:
    return f"{x:,.0f}" if x >= 1000 else f"{x:.4g}"


def _fmt(value: float | None, spec: str) -> str:
    """A metric as text; "n/a" where it does not apply (null in summary.json)."""
    return "n/a" if value is None else format(value, spec)


def _policy_lines(s: dict[str, Any]) -> list[str]:
    ev = s["events"]
    if "agencies" not in ev:
        level = int(s["metrics"]["policy_max_level"])
        actions = ", ".join(f"day {x['day']} {x['action']}" for x in ev["regulator_actions"])
        return [f"  regulator    highest rung: {RUNG_NAMES[level]}; actions: {actions or 'none'}"]
    ag = ev["agencies"]
    stages = ", ".join(f"{k} {v}" for k, v in ag["stages"].items())
    rules = ", ".join(
        f"{r['name']} (day {r['in_force']})" for r in ag["rules"] if r["in_force"] is not None
    )
    return [
        f"  agencies     {stages}; plans offering crypto {ag['plans_offering']:.0%}",
        f"  rules        in force: {rules or 'none'}",
    ]


def _fiscal_line(q: dict[str, Any], rate: float) -> str:
    rescue = f" rescue ${q['rescue_cost_pv_usd'] / 1e9:,.1f}B;" if q["rescue_usd"] else ""
    return (
        f"  fiscal       revenue PV ${q['revenue_pv_usd'] / 1e9:,.0f}B at {rate:.0%};"
        f"{rescue} crypto's effect {q['crypto_revenue_effect_usd'] / 1e9:+,.2f} $B"
    )


def _event_line(s: dict[str, Any]) -> list[str]:
    """The event window's metrics, if the run has a scheduled event."""
    w, q = s["event_window"], s["metrics"]
    if w["day"] is None:
        return []
    recovery = (
        f"recovered in {q['recovery_days']:.0f} days"
        if q["recovered"]
        else f"not recovered in {q['recovery_days']:.0f} days"
    )
    return [
        f"  event        day {w['day']} (window to day {w['last_day']}): "
        f"loss ${q['shock_loss_usd'] / 1e9:,.1f}B, savers' share "
        f"{_fmt(q['shock_saver_share'], '.0%')}, cohorts panicked {q['panic_share']:.0%}; "
        f"{recovery}"
    ]


def format_summary(s: dict[str, Any], out: Path) -> str:
    from crypto401k.experiments.books import books_line
    from crypto401k.experiments.run import RUN_FILES

    a, q, ev = s["agents"], s["metrics"], s["events"]
    names = list(s["prices"])
    p = s["prices"][names[0]]
    lines = [
        f"crypto401k run: seed {s['seed']}, {s['days']} days, {a['savers']} saver cohorts, "
        f"{a['traders']} traders, {a['institutions']} institutions ({s['wall_time_s']:.1f} s)",
        f"  price        ${p['initial']:,.0f} -> ${p['final']:,.0f} "
        f"(min ${p['min']:,.0f}, max ${p['max']:,.0f})",
        f"  market       annualized volatility {_fmt(q['annualized_volatility'], '.2f')}, "
        f"excess kurtosis {_fmt(q['excess_kurtosis'], '.1f')}, "
        f"max drawdown {q['max_drawdown']:.0%}, crash days {q['crash_days']:.0f}",
        f"  savers       cumulative loss {q['saver_loss_share']:.3%} of 401(k) assets, "
        f"peak panicked cohorts {q['saver_peak_panicked_share']:.1%}",
        f"  institutions {q['defaults']:.0f} defaults; retail liquidations {q['liquidations']:.0f}",
        *_policy_lines(s),
        _fiscal_line(q, s["fiscal"]["discount_rate"]),
        *_event_line(s),
        f"  books        {books_line(s['books'])}",
    ]
    for name in names if len(names) > 1 else []:
        p = s["prices"][name]
        vol = q.get(f"annualized_volatility@{name}")
        lines.append(
            f"  {name:<12} ${_usd(p['initial'])} -> ${_usd(p['final'])} (min ${_usd(p['min'])}, "
            f"max ${_usd(p['max'])})"
            + (f", annualized volatility {_fmt(vol, '.2f')}" if vol is not None else "")
        )
    if "exchanges" in ev:
        x = ev["exchanges"]
        custody = "segregated" if x["plan_custody_segregated"] else "at exchanges"
        lines.append(
            f"  exchanges    {len(x['failed'])} of {a['exchanges']} failed, "
            f"${x['lost_usd'] / 1e9:,.1f}B lost; plan coins {custody}"
        )
    if q["depeg_min_price"] is not None:
        broken = " (broken at the end)" if not q["peg_restored"] else ""
        lines.append(
            f"  stablecoin   low ${q['depeg_min_price']:.4f}, {q['depeg_days']:.0f} days off "
            f"the peg{broken}, {q['stable_redeemed_share']:.1%} of its supply redeemed"
        )
    d = s["divergence"]
    worst = max(d["max_abs_log_price_over_fundamental"].values())
    verdict = "DIVERGED: a failed run, not data" if d["diverged"] else "within bounds"
    lines.append(
        f"  divergence   {verdict} (largest price/fundamental gap x{math.exp(worst):.2f}, "
        f"bound x{d['bound_ratio']:g})"
    )
    lines.append(f"  wrote        {out}/ ({', '.join(RUN_FILES)})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    # a terminal or pipe that cannot show a character (PYTHONIOENCODING=ascii and a
    # non-ASCII folder name) gets an escape, not a traceback after the work is done
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            return cmd_run(args)
        if args.command == "validate":
            return cmd_validate(args)
        if args.command == "calibrate":
            return cmd_calibrate(args)
        if args.command == "experiment":
            return cmd_experiment(args)
        if args.command == "estimate":
            return cmd_estimate(args)
        return cmd_params(args)
    except ConfigError as exc:
        sys.stderr.write(f"crypto401k: error: {as_flags(str(exc))}\n")
        return EXIT_USAGE
    except RuntimeError as exc:  # the cluster went away: finished runs are kept
        from crypto401k.experiments.sweep import SweepStoppedError  # (the sweep is heavy)

        if not isinstance(exc, SweepStoppedError):
            raise
        sys.stderr.write(f"crypto401k: error: {as_flags(str(exc))}\n")
        return 1
    except MemoryError:
        sys.stderr.write(
            "crypto401k: error: out of memory; use fewer agents, days or workers "
            "(nothing was written)\n"
        )
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("crypto401k: interrupted; nothing was written\n")
        return 130
    except BrokenPipeError:  # the reader of our output went away (`| head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
