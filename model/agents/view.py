"""The Mesa face of a vectorized population: an agent that reads and writes its row."""

from __future__ import annotations

from typing import Any, ClassVar

import mesa
import numpy as np
from mesa.discrete_space import Cell, FixedAgent
from mesa.discrete_space.cell_agent import FixedCell


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
        """Remove the agent from the model (and from its cell, if the grid was built)."""
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
