"""The day's records (model/records.py) are what Mesa's own DataCollector would collect."""

from __future__ import annotations

import pickle

import mesa
import pandas as pd
from crypto401k.model.model import Crypto401kModel
from crypto401k.model.records import DayRecords

from tests.conftest import small_config


def test_day_records_equal_mesa_s_datacollector_read_during_and_after_the_run():
    m = Crypto401kModel(small_config(**{"run.steps": 60, "shock.day": 20}), rng=4)
    names = list(m.datacollector.model_reporters)
    mesa_dc = mesa.DataCollector(model_reporters={n: n for n in names})
    mesa_dc.collect(m)  # day 0, as the model's own records
    mid = None
    for day in range(60):
        m.step()
        mesa_dc.collect(m)
        if day == 25:  # reading the lists mid-run, then going on, loses and repeats nothing
            mid = {k: list(v) for k, v in m.datacollector.model_vars.items()}
    assert m.datacollector.model_vars == mesa_dc.model_vars
    assert all(mid[k] == mesa_dc.model_vars[k][:27] for k in names)
    ours, theirs = m.datacollector.get_model_vars_dataframe(), mesa_dc.get_model_vars_dataframe()
    pd.testing.assert_frame_equal(ours, theirs)
    assert len(ours) == 61 and (ours.dtypes == theirs.dtypes).all()
    assert m.datacollector._collection_steps == mesa_dc._collection_steps


def test_a_single_reporter_and_a_pickled_collector_work():
    m = Crypto401kModel(small_config(**{"run.steps": 5}), rng=1)
    dc = DayRecords(["price"])
    for _ in range(3):
        m.step()
        dc.collect(m)
    again = pickle.loads(pickle.dumps(dc))
    assert dc.model_vars == again.model_vars == {"price": dc.model_vars["price"]}
    assert len(dc.model_vars["price"]) == 3 and dc.model_vars["price"][-1] == m.price
