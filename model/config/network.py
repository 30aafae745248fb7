"""The market graph's section: topology and layers."""

from __future__ import annotations

from typing import Literal

from crypto401k.model.config.base import P, Section


class NetworkConfig(Section):
    """The market graph: social layer (who watches whom) and exposure layer (who lends)."""

    topology: Literal[
        "barabasi_albert", "watts_strogatz", "erdos_renyi", "stochastic_block", "graphml"
    ] = P(
        "stochastic_block",
        "-",
        "family of the social layer",
        "modelling choice: savers cluster by employer",
    )
    mean_degree: float = P(
        6.0, "edges/node", "mean social degree", "stated assumption", gt=0, le=1000
    )
    rewire_prob: float = P(
        0.1,
        "probability",
        "Watts-Strogatz rewiring probability",
        "[Watts & Strogatz 1998]",
        ge=0,
        le=1,
    )
    within_block_share: float = P(
        0.8,
        "fraction",
        "stochastic block: share of a node's edges inside its block "
        "(its employer, or the traders' block)",
        "stated assumption",
        ge=0,
        le=1,
    )
    graphml_path: str | None = P(
        None,
        "path",
        "GraphML file for topology='graphml': nodes 0..n-1 in agent order "
        "(savers, traders, institutions); edges may carry `layer`",
        "user input",
    )
