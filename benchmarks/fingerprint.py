"""Fingerprints of the engine's outputs, to show that speed work changes no result.

    .venv/bin/python -m benchmarks.fingerprint [--save FILE | --check FILE]

Runs a fixed set of short cases (the built-in scenarios, shocks, an exchange failure, a
stablecoin run, a rescue, per-agent records) for two seeds each and hashes, per case, the
model reporters' table (`get_model_vars_dataframe()`: values, column names and dtypes), the
per-agent table when it is collected, and the final state (every population's holdings, the
outside market, the books). Equal hashes mean bit-identical outputs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from crypto401k.model import scenarios
from crypto401k.model.config import Config

DAYS = 400
SEEDS = (1, 7)
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "btc_only": ("btc_only", {}),
    "four_assets": ("four_assets", {}),
    "agencies": ("agencies", {}),
    "upper_bound": ("upper_bound", {}),
    "shock_drop": ("btc_only", {"shock.day": 150, "shock.fundamental_drop": 0.5}),
    "shock_default": (
        "four_assets",
        {"shock.day": 100, "shock.default_institution": 0, "shock.asset": "ETH"},
    ),
    "exchange_fail": ("four_assets", {"exchanges.fail_day": 120}),
    "stable_run": ("four_assets", {"stablecoin.shock_day": 90}),
    "rescue_buy": (
        "upper_bound",
        {
            "regulator.threshold": 0.01,
            "regulator.lag_days": 1,
            "shock.day": 60,
            "shock.fundamental_drop": 0.7,
            "regulator.max_level": 5,
            "fiscal.rescue_mode": "buy",
            "regulator.circuit_breaker": 0.05,
        },
    ),
    "agent_data": (
        "btc_only",
        {
            "run.collect_agent_data": True,
            "savers.n_cohorts": 200,
            "traders.n_traders": 100,
            "market.impact_law": "sqrt",
        },
    ),
}


def frame_hash(df: pd.DataFrame) -> str:
    """Hash of a table's column names, dtypes, index and values (bit for bit)."""
    h = hashlib.sha256()
    h.update(repr(list(df.columns)).encode())
    h.update(repr([str(t) for t in df.dtypes]).encode())
    h.update(repr(df.index.tolist()).encode())
    for col in df.columns:
        values = df[col].to_numpy()
        if values.dtype == object:  # e.g. the agencies' stages: hash the values, not pointers
            h.update(repr(values.tolist()).encode())
        else:
            h.update(np.ascontiguousarray(values).tobytes())
    return h.hexdigest()[:16]


def state_hash(m: Any) -> str:
    """Hash of the final state: holdings, cash, loans, the outside market, the books."""
    h = hashlib.sha256()
    arrays = [
        m.savers.coins,
        m.savers.other,
        m.savers.cost,
        m.traders.coins,
        m.traders.cash,
        m.institutions.coins,
        m.institutions.cash,
        m.institutions.loans,
        m.outside_coins,
        np.atleast_1d(m.outside_cash),
        m.market.price,
        m.holding_pnl_asset,
    ]
    for a in arrays:
        h.update(np.ascontiguousarray(a, dtype=float).tobytes())
    h.update(json.dumps(m.books(), default=lambda x: np.asarray(x).tolist()).encode())
    h.update(json.dumps(m.fiscal_summary(), default=str).encode())
    return h.hexdigest()[:16]


def case_config(scenario: str, overrides: dict[str, Any]) -> Config:
    return scenarios.load(scenario).with_overrides({"run.steps": DAYS, **overrides})


def fingerprints(cases: list[str]) -> dict[str, dict[str, str]]:
    from crypto401k.model.model import Crypto401kModel

    out: dict[str, dict[str, str]] = {}
    for name in cases:
        scenario, overrides = CASES[name]
        cfg = case_config(scenario, overrides)
        for seed in SEEDS:
            start = time.perf_counter()
            m = Crypto401kModel(cfg, rng=seed)
            m.run()
            entry = {
                "model_vars": frame_hash(m.datacollector.get_model_vars_dataframe()),
                "state": state_hash(m),
            }
            if cfg.run.collect_agent_data:
                from crypto401k.model.agents.saver import RetirementSaver

                agents = m.datacollector.get_agenttype_vars_dataframe(RetirementSaver)
                entry["agent_vars"] = frame_hash(agents)
            out[f"{name}/seed{seed}"] = entry
            print(f"{name}/seed{seed}: {entry} ({time.perf_counter() - start:.1f} s)", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", type=Path, help="write the fingerprints to this JSON file")
    parser.add_argument("--check", type=Path, help="compare with the fingerprints in this file")
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    args = parser.parse_args(argv)
    got = fingerprints(args.cases)
    if args.save:
        args.save.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    if args.check:
        want = json.loads(args.check.read_text())
        bad = [k for k, v in got.items() if want.get(k) != v]
        if bad:
            print(f"DIFFERENT: {', '.join(bad)}")
            return 1
        print(f"identical: {len(got)} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
