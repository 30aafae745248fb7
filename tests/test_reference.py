"""The vectorized engine against the plain Mesa reference (benchmarks/reference.py): the same
rules, one Python object per agent, must give the same model, bit for bit."""

import numpy as np
import pytest
from crypto401k.model import numpy_calls
from crypto401k.model.model import Crypto401kModel

from benchmarks.reference import PlainSaver, PlainTrader, ReferenceModel
from tests.conftest import small_config

# a crash with leverage, panic, reallocation and the regulator's warning
CRASH = {
    "savers__allocation": 0.05,
    # plans adopt over the run and most participants opt in: the offering branches
    "savers__offer_share_start": 0.3,
    "savers__offer_share_end": 0.9,
    "savers__offer_ramp_days": 150,
    "savers__uptake": 0.7,
    "savers__channel": "payroll+reallocation",
    "traders__leverage_share": 0.2,
    "shock__day": 120,
    "shock__fundamental_drop": 0.6,
    "regulator__threshold": 10.0,  # bps of plan assets: the crash reaches it
    # a short burn-in (the engine's is compared too) that leaves leveraged traders to liquidate
    "run__burn_in_days": 10,
}
# a hair-trigger regulator that climbs the whole ladder to the forced unwind, with a leverage
# cap, under payroll buying alone: the branches the crash does not reach
LADDER = {
    **CRASH,
    "savers__channel": "payroll",
    "regulator__threshold": 0.1,
    "regulator__lag_days": 5,
    "regulator__leverage_cap": 1.5,
}

# the plans' sleeve runs into the concentration cap (0.1% of Bitcoin's coins) and stops buying
CAPPED = {**CRASH, "savers__max_float_share": 0.001, "regulator__threshold": 1.0}


@pytest.mark.skipif(not numpy_calls.AVAILABLE, reason="numpy's routines not callable here")
@pytest.mark.parametrize(
    ("seed", "overrides"),
    [
        (3, CRASH),
        (9, {**CRASH, "network__topology": "barabasi_albert", "savers__payday_sync": True}),
        (5, LADDER),
        (1, CAPPED),
    ],
)
def test_reference_gives_the_engine_s_model_bit_for_bit(seed, overrides):
    cfg = small_config(**overrides)
    engine, plain = Crypto401kModel(cfg, rng=seed), ReferenceModel(cfg, rng=seed)
    engine.run_for(300)
    plain.run_for(300)
    a = engine.datacollector.get_model_vars_dataframe()
    b = plain.datacollector.get_model_vars_dataframe()
    # the comparison covers the branches: panic, liquidations, policy, target-date rebalancing
    assert a.panicked_savers.max() > 0
    assert a.liquidations.iloc[-1] > 0
    assert a.policy_level.max() > 0
    assert engine.savers.target_date.any()
    assert list(a.columns) == list(b.columns)
    for column in a.columns:
        assert np.array_equal(a[column].to_numpy(), b[column].to_numpy(), equal_nan=True), column
    saver_state = ["coins", "cash", "other", "eligible", "cost", "proceeds", "age", "panicked"]
    for name in saver_state:
        engine_column = np.asarray(getattr(engine.savers, name), dtype=float).reshape(-1)
        plain_column = np.array([getattr(a, name) for a in plain.savers.agents], dtype=float)
        assert np.array_equal(engine_column, plain_column), name
    for name in ["coins", "cash", "strategy", "liquidated_day"]:
        engine_column = np.asarray(getattr(engine.traders, name), dtype=float).reshape(-1)
        plain_column = np.array([getattr(a, name) for a in plain.traders.agents], dtype=float)
        assert np.array_equal(engine_column, plain_column), name
    if overrides is LADDER:  # every rung, the leverage cap included, was compared
        assert a.policy_level.max() == 4 and a.liquidations.iloc[-1] > 0
    if overrides is CAPPED:  # the cap bound (held within a hair of it) and was compared
        held = engine.savers.coins.sum(axis=0)
        assert (
            np.all(held <= engine.savers.cap_coins * (1 + 1e-12))
            and held[0] > 0.9 * engine.savers.cap_coins[0]
        )


def test_reference_is_made_of_plain_agents_on_the_network():
    cfg = small_config()
    m = ReferenceModel(cfg, rng=1)
    savers = m.agents.select(agent_type=PlainSaver)
    traders = m.agents.select(agent_type=PlainTrader)
    assert len(savers) == cfg.savers.n_cohorts and len(traders) == cfg.traders.n_traders
    s = savers.to_list()[0]
    assert len(s.neighbours) == m.degree[0]  # read from Mesa's Network space
    assert all(len(cell.agents) == 1 for cell in m.grid.all_cells)
