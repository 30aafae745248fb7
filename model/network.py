"""The market graph: nodes are agents, edges carry a `layer` attribute.

- `social` edges: who watches whom. Herding (traders) and panic (savers) spread along them.
  Savers cluster by employer in the stochastic-block topology.
- `exposure` edges: who lends to whom among institutions (added by `model.agents.institution`).

Node ids are the agents' positions in the population order: savers 0..S-1, traders
S..S+R-1, institutions after them. Every random draw comes from the model's generators, so
the graph is the same for the same seed. Interactions run through the sparse adjacency
matrix of the social layer (`social_adjacency`), never through per-node Python loops.
"""

from __future__ import annotations

from pathlib import Path
from random import Random

import networkx as nx
import numpy as np
import scipy.sparse as sp

from model.config import ConfigError, NetworkConfig


def employer_assignment(n_savers: int, n_employers: int, rng: np.random.Generator) -> np.ndarray:
    """Employer index of each saver cohort, shape (n_savers,).

    Employer sizes follow Zipf's law (weight 1/rank): a few large plan sponsors and many
    small ones, as in the US firm-size distribution (Axtell 2001).
    """
    weights = 1.0 / np.arange(1, n_employers + 1)
    return rng.choice(n_employers, size=n_savers, p=weights / weights.sum())


def build_social_graph(
    cfg: NetworkConfig,
    n_savers: int,
    n_traders: int,
    n_institutions: int,
    employer: np.ndarray,
    py_random: Random,
) -> nx.MultiGraph:
    """The market graph with its social layer; institutions are nodes without social edges
    (unless a GraphML file gives them some). A multigraph, so that two agents may be linked
    in both layers.

    `py_random` is the model's `random.Random`: networkx generators draw from it.
    """
    n_social = n_savers + n_traders
    n_total = n_social + n_institutions
    if cfg.topology == "graphml":
        return _read_graphml(cfg.graphml_path, n_total)

    k = cfg.mean_degree
    if n_social < 2:
        social = nx.empty_graph(n_social)
    elif cfg.topology == "barabasi_albert":
        m = int(min(max(1, round(k / 2)), n_social - 1))
        social = nx.barabasi_albert_graph(n_social, m, seed=py_random)
    elif cfg.topology == "watts_strogatz":
        kk = int(min(max(2, 2 * round(k / 2)), n_social - 1))
        social = nx.watts_strogatz_graph(n_social, kk, cfg.rewire_prob, seed=py_random)
    elif cfg.topology == "erdos_renyi":
        social = nx.fast_gnp_random_graph(n_social, min(1.0, k / (n_social - 1)), seed=py_random)
    else:  # stochastic_block: one block per employer, one for the traders
        social = _block_graph(cfg, n_savers, n_traders, employer, py_random)

    graph = nx.MultiGraph()
    graph.add_nodes_from(range(n_total))
    graph.add_edges_from(social.edges(), layer="social")
    return graph


def _block_graph(
    cfg: NetworkConfig,
    n_savers: int,
    n_traders: int,
    employer: np.ndarray,
    py_random: Random,
) -> nx.Graph:
    """Stochastic block model whose blocks are employers (savers) plus one traders' block.

    Edge probabilities are set so that a node has on average `mean_degree` edges, a share
    `within_block_share` of them inside its own block.
    """
    n_social = n_savers + n_traders
    block_of = np.concatenate([employer, np.full(n_traders, employer.max(initial=-1) + 1)])
    # networkx wants nodes grouped by block: relabel after building.
    order = np.argsort(block_of, kind="stable")
    _, sizes = np.unique(block_of, return_counts=True)
    k, w = cfg.mean_degree, cfg.within_block_share
    n_b = len(sizes)
    probs = np.empty((n_b, n_b))
    for a in range(n_b):
        inside = w * k / max(sizes[a] - 1, 1)
        outside = (1 - w) * k / max(n_social - sizes[a], 1)
        probs[a, :] = outside
        probs[a, a] = inside
    probs = np.minimum((probs + probs.T) / 2, 1.0)
    sbm = nx.stochastic_block_model(
        sizes.tolist(), probs.tolist(), seed=py_random, sparse=True, selfloops=False
    )
    mapping = dict(zip(range(n_social), order.tolist(), strict=True))
    return nx.relabel_nodes(sbm, mapping, copy=True)


def _read_graphml(path: str | None, n_total: int) -> nx.MultiGraph:
    file = Path(path or "")
    if not file.is_file():
        raise ConfigError(f"network.graphml_path = {path!r}: no such file")
    try:
        raw = nx.read_graphml(file, node_type=int)
    except Exception as exc:  # networkx raises many types for malformed files
        raise ConfigError(
            f"network.graphml_path = {path!r}: not a readable GraphML file with integer node "
            f"ids ({type(exc).__name__}: {exc})"
        ) from None
    nodes = set(raw.nodes)
    if nodes != set(range(n_total)):
        raise ConfigError(
            f"network.graphml_path = {path!r}: has {len(nodes)} nodes; must have exactly the "
            f"nodes 0..{n_total - 1}, one per saver, trader and institution"
        )
    graph = nx.MultiGraph()
    graph.add_nodes_from(range(n_total))
    social = [(u, v) for u, v, d in raw.edges(data=True) if d.get("layer", "social") == "social"]
    graph.add_edges_from(social, layer="social")
    return graph


def social_adjacency(graph: nx.MultiGraph, n_nodes: int) -> sp.csr_array:
    """Sparse 0/1 adjacency of the social layer, shape (n_nodes, n_nodes)."""
    edges = [(u, v) for u, v, d in graph.edges(data=True) if d.get("layer") == "social"]
    if not edges:
        return sp.csr_array((n_nodes, n_nodes))
    e = np.asarray(edges, dtype=np.int64)
    rows = np.concatenate([e[:, 0], e[:, 1]])
    cols = np.concatenate([e[:, 1], e[:, 0]])
    data = np.ones(len(rows))
    adj = sp.csr_array((data, (rows, cols)), shape=(n_nodes, n_nodes))
    adj.data[:] = 1.0  # duplicate edges collapse to 1
    return adj


def neighbour_share(adj: sp.csr_array, flag: np.ndarray, degree: np.ndarray) -> np.ndarray:
    """Share of each node's neighbours whose `flag` is set; 0 for isolated nodes."""
    counts = adj @ flag.astype(float)
    return np.divide(counts, degree, out=np.zeros_like(counts), where=degree > 0)
