"""A row agent's `remove()` says it cannot leave its population instead of lying."""

from __future__ import annotations

import numpy as np
import pytest
from crypto401k.model.agents import RetirementSaver
from crypto401k.model.agents.view import RowRemovalError
from crypto401k.model.model import Crypto401kModel

from tests.conftest import small_config


def _saver(m: Crypto401kModel) -> RetirementSaver:
    return m.agents.select(agent_type=RetirementSaver).to_list()[0]


def test_removing_a_row_agent_raises_and_changes_nothing():
    m = Crypto401kModel(small_config(savers__allocation=0.05))
    saver = _saver(m)
    n = len(m.agents)
    with pytest.raises(RowRemovalError, match=rf"row {saver.row} of model\.savers"):
        saver.remove()
    assert saver in m.agents and len(m.agents) == n
    # the same run as a model whose agent nobody tried to remove
    twin = Crypto401kModel(small_config(savers__allocation=0.05))
    for _ in range(30):
        m.step()
        twin.step()
    assert np.array_equal(m.savers.coins, twin.savers.coins)


def test_the_message_names_the_agent_its_row_and_the_way_out():
    m = Crypto401kModel(small_config())
    saver = _saver(m)
    with pytest.raises(RowRemovalError) as err:
        saver.remove()
    text = str(err.value)
    assert f"RetirementSaver {saver.unique_id} is row {saver.row} of model.savers" in text
    assert "savers.n_cohorts" in text and "detach()" in text


def test_detach_drops_only_the_view_and_the_row_keeps_trading():
    m = Crypto401kModel(small_config(savers__allocation=0.05))
    saver = _saver(m)
    before = m.savers.coins[saver.row].copy()
    saver.detach()
    assert saver not in m.agents
    for _ in range(40):  # several paydays
        m.step()
    assert m.savers.coins[saver.row].sum() > before.sum()  # detach() is not removal
