"""The Mesa face of a vectorized population: an agent that reads and writes its row."""

from __future__ import annotations

from typing import Any, ClassVar

import mesa
import numpy as np
from mesa.discrete_space import Cell, FixedAgent
from mesa.discrete_space.cell_agent import FixedCell


class RowRemovalError(RuntimeError):
    """Raised by `RowAgent.remove()`: one row of a vectorized population cannot leave it."""


class RowAgent(FixedAgent):
    """An agent whose state is row `row` of the population `model.<population>`."""

    population: ClassVar[str]

    def __init__(self, model: mesa.Model, row: int) -> None:
        super().__init__(model)
        self.row = row

    @property
    def node(self) -> int:
        """The agent's node in the market graph."""
        return self.model.first_node[self.population] + self.row

    @property
    def cell(self) -> Cell | None:
        """The agent's cell in `model.grid` (which is built on first use)."""
        if self._mesa_cell is None:
            _ = self.model.grid
        return self._mesa_cell

    @cell.setter
    def cell(self, cell: Cell) -> None:
        FixedCell.cell.fset(self, cell)

    def remove(self) -> None:
        """Not supported: raises `RowRemovalError`.

        The population's rule trades every row at once, so removing the Mesa agent would leave
        its row trading (a removed saver would still buy coins on every payday). Build the
        model with fewer agents instead; `detach()` drops only the Mesa view.
        """
        raise RowRemovalError(
            f"{type(self).__name__} {self.unique_id} is row {self.row} of "
            f"model.{self.population}, whose rule trades every row at once: removing the "
            "agent would leave its row trading. Build the model with fewer agents instead "
            "(e.g. a smaller savers.n_cohorts or traders.n_traders); detach() drops only the "
            "Mesa view and leaves the row trading"
        )

    def detach(self) -> None:
        """Drop the Mesa view (from `model.agents`, and from its cell if the grid was built).

        The row stays in the population and keeps trading: for code that puts another agent
        object on the same row (benchmarks/reference.py's plain Mesa agents do).
        """
        mesa.Agent.remove(self)
        if self._mesa_cell is not None:
            self._mesa_cell.remove_agent(self)
            self._mesa_cell = None

    @property
    def _pop(self) -> Any:
        return getattr(self.model, self.population)

    @property
    def coins(self) -> np.ndarray:
        """Coins held, per asset (a view: writing it changes the population's state)."""
        return self._pop.coins[self.row]
