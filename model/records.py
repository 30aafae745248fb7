"""The day's records: Mesa's `DataCollector` interface over one row per day.

Mesa's `DataCollector.collect` appends each reporter to its own list through a deep copy,
about 50 Python calls and copies a day (a tenth of a default day's time). The model's
reporters are plain attributes holding Python scalars, so a day's record here is one tuple
read in a single C call (`operator.attrgetter`); the per-reporter lists of `model_vars`
are filled from those rows when someone reads them. Everything users read stays as in Mesa:
`model_vars` (a dict of lists), `get_model_vars_dataframe()`, and the agent-type tables
(`get_agenttype_vars_dataframe`), which are collected by Mesa's own code.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from typing import Any

import mesa


class DayRecords(mesa.DataCollector):
    """A `mesa.DataCollector` of model attributes named in `names`, one row per `collect`.

    Args:
        names: the model attributes recorded each day (each a Python scalar), in order.
        agenttype_reporters: as for `mesa.DataCollector` (collected by Mesa's code).
    """

    def __init__(
        self, names: Iterable[str], agenttype_reporters: dict[type, dict[str, Any]] | None = None
    ) -> None:
        self._names = tuple(names)
        self._rows: list[tuple[Any, ...]] = []
        self._columns: dict[str, list[Any]] = {}
        self._synced = 0  # rows already copied into `_columns`
        self._get = operator.attrgetter(*self._names)
        self._single = len(self._names) == 1  # then attrgetter returns the value, no tuple
        super().__init__(
            model_reporters={name: name for name in self._names},
            agenttype_reporters=agenttype_reporters,
        )

    @property
    def model_vars(self) -> dict[str, list[Any]]:
        """Each reporter's values, one per collected day (Mesa's layout: a dict of lists)."""
        new = self._rows[self._synced :]
        if new:
            for name, values in zip(self._names, zip(*new, strict=True), strict=True):
                self._columns[name].extend(values)
            self._synced = len(self._rows)
        return self._columns

    @model_vars.setter
    def model_vars(self, value: dict[str, list[Any]]) -> None:  # Mesa's __init__ sets it
        self._columns = value

    def collect(self, model: mesa.Model) -> None:
        """Record today's row of model reporters (and Mesa's agent-type records, if any)."""
        self._collection_steps.append(model.time)
        row = self._get(model)
        self._rows.append((row,) if self._single else row)
        if self.agenttype_reporters:
            self._agenttype_records[model.time] = {
                agent_type: list(self._record_agenttype(model, agent_type))
                for agent_type in self.agenttype_reporters
            }
