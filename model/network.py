"""The market graph: nodes are agents, edges carry a `layer` attribute.

- `social` edges: who watches whom. Herding (traders) and panic (savers) spread along them.
  Savers cluster by employer in the stochastic-block topology.
- `exposure` edges: who lends to whom among institutions (from the institutions' loans).

Node ids are the agents' positions in the population order: savers 0..S-1, traders
S..S+R-1, institutions after them. Every random draw comes from the model's generators, so
the graph is the same for the same seed.

The engine keeps the social layer as an edge array and its sparse adjacency matrix
(`social_adjacency`); interactions run through that matrix, never through per-node Python
loops. The networkx multigraph (`market_graph`) holds the same edges for users, the browser
app and Mesa's `Network` space; the model builds it on first use, because at 100,000 agents
building it costs more than the whole construction of the model.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from random import Random
from typing import Any

import networkx as nx
import numpy as np
import scipy.sparse as sp
from crypto401k.model.config import ConfigError, NetworkConfig
from crypto401k.model.kernels import compiled


def employer_assignment(n_savers: int, n_employers: int, rng: np.random.Generator) -> np.ndarray:
    """Employer index of each saver cohort, shape (n_savers,).

    Employer sizes follow Zipf's law (weight 1/rank): a few large plan sponsors and many
    small ones, as in the US firm-size distribution (Axtell 2001).
    """
    weights = 1.0 / np.arange(1, n_employers + 1)
    return rng.choice(n_employers, size=n_savers, p=weights / weights.sum())


def social_edges(
    cfg: NetworkConfig,
    n_savers: int,
    n_traders: int,
    n_institutions: int,
    employer: np.ndarray,
    py_random: Random,
) -> np.ndarray:
    """Edges of the social layer, shape (edges, 2), node ids as in the module docstring.

    Institutions have no social edges unless a GraphML file gives them some.
    `py_random` is the model's `random.Random`: the generators draw from it.
    """
    n_social = n_savers + n_traders
    if cfg.topology == "graphml":
        return _read_graphml(cfg.graphml_path, n_social + n_institutions)
    k = cfg.mean_degree
    if n_social < 2:
        return np.zeros((0, 2), dtype=np.int64)
    if cfg.topology == "stochastic_block":  # one block per employer, one for the traders
        return _block_edges(cfg, n_savers, n_traders, employer, py_random)
    if cfg.topology == "barabasi_albert":
        m = int(min(max(1, round(k / 2)), n_social - 1))
        social = nx.barabasi_albert_graph(n_social, m, seed=py_random)
    elif cfg.topology == "watts_strogatz":
        kk = int(min(max(2, 2 * round(k / 2)), n_social - 1))
        social = nx.watts_strogatz_graph(n_social, kk, cfg.rewire_prob, seed=py_random)
    else:  # erdos_renyi
        social = nx.fast_gnp_random_graph(n_social, min(1.0, k / (n_social - 1)), seed=py_random)
    return _edge_array(social.edges())


def _edge_array(edges: Iterable[tuple[int, int]]) -> np.ndarray:
    return np.array(list(edges), dtype=np.int64).reshape(-1, 2)


def _block_edges(
    cfg: NetworkConfig,
    n_savers: int,
    n_traders: int,
    employer: np.ndarray,
    py_random: Random,
) -> np.ndarray:
    """Stochastic block model whose blocks are employers (savers) plus one traders' block.

    Edge probabilities are set so that a node has on average `mean_degree` edges, a share
    `within_block_share` of them inside its own block.
    """
    n_social = n_savers + n_traders
    block_of = np.concatenate([employer, np.full(n_traders, employer.max(initial=-1) + 1)])
    order = np.argsort(block_of, kind="stable")  # position in block order -> node id
    _, sizes = np.unique(block_of, return_counts=True)
    k, w = cfg.mean_degree, cfg.within_block_share
    inside = w * k / np.maximum(sizes - 1, 1)
    outside = (1 - w) * k / np.maximum(n_social - sizes, 1)
    # symmetric: between two blocks the mean of their rates; inside a block its own rate
    p = (outside[:, None] + outside[None, :]) / 2
    np.fill_diagonal(p, inside)
    edges = block_model_edges(sizes.tolist(), np.minimum(p, 1.0), py_random)
    return order[edges]


def block_model_edges(sizes: list[int], p: np.ndarray, py_random: Random) -> np.ndarray:
    """Edges of an undirected stochastic block model without self-loops, shape (edges, 2).

    `p[i, j]` is the edge probability between blocks i and j (symmetric, shape (blocks,
    blocks)). The same graph, from the same draws of `py_random` (left in the same state), as
    ``networkx.stochastic_block_model(sizes, p, seed=py_random, sparse=True)``: nodes
    0..sum(sizes)-1 in block order, and for each pair of blocks the geometric skips of
    Batagelj & Brandes (2005) over the candidate pairs. networkx walks the skipped pairs one
    by one, which is quadratic in the number of nodes; here a skip is arithmetic, so the cost
    is one draw per edge and per pair of blocks, in one compiled pass that draws
    `py_random.random()`'s numbers itself (`_mt_random`, from the generator's state).

    networkx enumerates each block's nodes in the iteration order of a Python set of
    consecutive integers; `list(set(range(a, b)))` reproduces that order.

    Where networkx raises, the pass goes on: a probability so small that 1 - p rounds to 1
    (below about 1.1e-16) gives no edges and takes no draw, and a draw of exactly 0.0 ends
    its pair of blocks. `py_random` must be a `random.Random` whose `random()` is CPython's
    (the pass reads the generator's state, not the method); `p` must hold probabilities.
    """
    n_blocks = len(sizes)
    p = np.ascontiguousarray(p, dtype=np.float64)
    if n_blocks == 0 and p.size == 0:
        p = p.reshape(0, 0)
    if p.shape != (n_blocks, n_blocks) or not ((p >= 0.0) & (p <= 1.0)).all():
        raise ValueError(
            f"p must be a ({n_blocks}, {n_blocks}) array of probabilities in [0, 1]; "
            f"got shape {p.shape}"
            + ("" if p.shape != (n_blocks, n_blocks) else f", values from {p.min()} to {p.max()}")
        )
    if not isinstance(py_random, Random) or type(py_random).random is not Random.random:
        raise TypeError(
            f"py_random must be a random.Random with CPython's random(); got {type(py_random)}"
        )
    bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(int).tolist()
    nodes = np.array(
        [v for x in range(n_blocks) for v in set(range(bounds[x], bounds[x + 1]))],
        dtype=np.int64,
    )
    version, words, gauss = py_random.getstate()
    mt = np.array(words[:-1], dtype=np.int64)  # MT19937's 624 words, then its position
    at = np.array([words[-1]], dtype=np.int64)
    us, vs = _block_model_pass(np.asarray(bounds, dtype=np.int64), nodes, p, mt, at)
    py_random.setstate((version, (*mt.tolist(), int(at[0])), gauss))
    return np.column_stack([us, vs])


# CPython's random.random(): MT19937 (Matsumoto & Nishimura 1998) and its 53-bit float
_MT_N, _MT_M = 624, 397
_MT_MATRIX_A, _MT_UPPER, _MT_LOWER = 0x9908B0DF, 0x80000000, 0x7FFFFFFF  # int64 arithmetic


@compiled
def _mt_word(mt: np.ndarray, at: np.ndarray) -> int:  # pragma: no cover - compiled
    """The generator's next 32-bit word (CPython's genrand_uint32); `mt` holds 32-bit words."""
    if at[0] >= _MT_N:
        for kk in range(_MT_N):
            y = (mt[kk] & _MT_UPPER) | (mt[(kk + 1) % _MT_N] & _MT_LOWER)
            mag = _MT_MATRIX_A if y & 1 else 0
            mt[kk] = mt[(kk + _MT_M) % _MT_N] ^ (y >> 1) ^ mag
        at[0] = 0
    y = mt[at[0]]
    at[0] += 1
    y ^= y >> 11
    y ^= (y << 7) & 0x9D2C5680
    y ^= (y << 15) & 0xEFC60000
    y ^= y >> 18
    return y & 0xFFFFFFFF


@compiled
def _mt_random(mt: np.ndarray, at: np.ndarray) -> float:  # pragma: no cover - compiled
    """CPython's random.random(): 53 random bits from two words, in [0, 1)."""
    a = _mt_word(mt, at) >> 5
    b = _mt_word(mt, at) >> 6
    return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0)


@compiled
def _block_model_pass(
    bounds: np.ndarray, nodes: np.ndarray, p: np.ndarray, mt: np.ndarray, at: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    us = np.empty(1024, dtype=np.int64)
    vs = np.empty(1024, dtype=np.int64)
    n = 0
    blocks = len(bounds) - 1
    for i in range(blocks):
        a0, m_i = bounds[i], bounds[i + 1] - bounds[i]
        for j in range(i, blocks):
            b0, m_j = bounds[j], bounds[j + 1] - bounds[j]
            pij = p[i, j]
            log_q = math.log(1 - pij) if 0 < pij < 1 else 0.0
            if pij <= 0 or (pij < 1 and log_q == 0):  # below about 1e-16: no edges
                continue
            total = m_i * (m_i - 1) // 2 if i == j else m_i * m_j
            pos = 0 if pij == 1 else _skip(_mt_random(mt, at), log_q, total)
            row, start = 0, 0  # inside a block: the row of combinations(nodes, 2) and its start
            while pos < total:
                if i == j:
                    while pos >= start + m_i - 1 - row:
                        start += m_i - 1 - row
                        row += 1
                    u, v = nodes[a0 + row], nodes[a0 + row + 1 + pos - start]
                else:
                    u, v = nodes[a0 + pos // m_j], nodes[b0 + pos % m_j]
                if n == len(us):
                    us = np.concatenate((us, np.empty(n, dtype=np.int64)))
                    vs = np.concatenate((vs, np.empty(n, dtype=np.int64)))
                us[n] = u
                vs[n] = v
                n += 1
                pos += 1 if pij == 1 else 1 + _skip(_mt_random(mt, at), log_q, total)
    return us[:n].copy(), vs[:n].copy()


@compiled
def _skip(u: float, log_q: float, total: int) -> int:  # pragma: no cover - compiled
    """floor(log(u) / log(1 - p)), the pairs skipped; `total` (no more edges) where Python's
    would overflow or be undefined (u = 0: log(0) raises in Python)."""
    s = math.log(u) / log_q if u > 0 else math.inf
    return math.floor(s) if s < total else total


def _read_graphml(path: str | None, n_total: int) -> np.ndarray:
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
    return _edge_array(
        (u, v) for u, v, d in raw.edges(data=True) if d.get("layer", "social") == "social"
    )


def market_graph(
    n_nodes: int,
    social: np.ndarray,
    exposure: Iterable[tuple[int, int, dict[str, Any]]],
    custody: Iterable[tuple[int, int]] = (),
) -> nx.MultiGraph:
    """The networkx multigraph of the layers: `social` edges (edges, 2), `exposure` edges
    (lender-debtor pairs with their attributes) and `custody` edges (exchange, customer).
    A multigraph, so that two agents may be linked in several layers."""
    graph = nx.MultiGraph()
    graph.add_nodes_from(range(n_nodes))
    graph.add_edges_from(social.tolist(), layer="social")
    graph.add_edges_from((u, v, {"layer": "exposure", **d}) for u, v, d in exposure)
    graph.add_edges_from(custody, layer="custody")
    return graph


def social_adjacency(edges: np.ndarray, n_nodes: int) -> sp.csr_array:
    """Sparse 0/1 adjacency of the social layer, shape (n_nodes, n_nodes), from its edge
    array (edges, 2)."""
    if len(edges) == 0:
        return int64_indices(sp.csr_array((n_nodes, n_nodes)))
    rows = np.concatenate([edges[:, 0], edges[:, 1]])
    cols = np.concatenate([edges[:, 1], edges[:, 0]])
    adj = sp.csr_array((np.ones(len(rows)), (rows, cols)), shape=(n_nodes, n_nodes))
    adj.data[:] = 1.0  # duplicate edges collapse to 1
    return int64_indices(adj)


def int64_indices(adj: sp.csr_array) -> sp.csr_array:
    """`adj` (a copy) with int64 index arrays: scipy picks int32 for some matrices (an empty
    one, say), and each index type would be another compiled version of the rules that
    read the adjacency (one machine-code version serves every network)."""
    out = adj.copy()
    out.indices = out.indices.astype(np.int64)
    out.indptr = out.indptr.astype(np.int64)
    return out


@compiled
def fear_share(
    panicked: np.ndarray,
    traders_afraid: np.ndarray,
    exchange_failed: np.ndarray,
    saver_exchange: np.ndarray,
    trader_exchange: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    degree: np.ndarray,
) -> np.ndarray:  # pragma: no cover - compiled
    """Share of each saver's neighbours in fear, shape (savers,), over the social layer's
    0/1 symmetric adjacency (`social_adjacency`: `indptr`, `indices`, nodes numbered
    savers, traders, then the rest): a panicked saver, a trader in fear (`traders_afraid`),
    or a customer (`saver_exchange`, `trader_exchange`: its exchange, -1 none) of a recently
    failed exchange (`exchange_failed`) counts for each of its saver neighbours; `degree`
    is each saver's number of neighbours (0: a share of 0).

    Only the few agents in fear are visited (their rows, by symmetry their savers'
    columns): each count is a whole number of neighbours, exact in any order of addition,
    so the shares are those of the sum over each saver's row, to the last bit."""
    n_s, n_r = panicked.shape[0], traders_afraid.shape[0]
    if indptr.shape[0] < n_s + n_r + 1:  # compiled code checks no bounds: refuse a slice
        raise ValueError("fear_share takes the whole social adjacency, not the savers' rows")
    count = np.zeros(n_s)
    afraid = False
    for v in range(n_s + n_r):
        if v < n_s:
            e = saver_exchange[v]
            hit = panicked[v] or (e >= 0 and exchange_failed[e])
        else:
            e = trader_exchange[v - n_s]
            hit = traders_afraid[v - n_s] or (e >= 0 and exchange_failed[e])
        if hit:
            afraid = True
            for jj in range(indptr[v], indptr[v + 1]):
                if indices[jj] < n_s:
                    count[indices[jj]] += 1.0
    if not afraid:  # most days: every share is 0
        return count
    share = np.zeros(n_s)
    for i in range(n_s):
        if degree[i] > 0:
            share[i] = count[i] / degree[i]
    return share
