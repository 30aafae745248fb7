"""The market graph: topologies, layers, reproducibility, GraphML input."""

import math
import random

import networkx as nx
import numpy as np
import pytest
from crypto401k.model.agents.institution import Institution
from crypto401k.model.config import Config, ConfigError
from crypto401k.model.model import Crypto401kModel
from crypto401k.model.network import (
    _mt_random,
    block_model_edges,
    employer_assignment,
    fear_share,
    market_graph,
    social_adjacency,
    social_edges,
)
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import small_config

TOPOLOGIES = ["barabasi_albert", "watts_strogatz", "erdos_renyi", "stochastic_block"]


def _graph(topology, seed=1, n_s=300, n_r=100, n_i=10, **kw):
    cfg = Config().with_overrides({"network.topology": topology, **kw}).network
    employer = employer_assignment(n_s, 20, np.random.default_rng(seed))
    edges = social_edges(cfg, n_s, n_r, n_i, employer, random.Random(seed))
    return market_graph(n_s + n_r + n_i, edges, []), employer


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_each_topology_has_all_nodes_social_layer_and_mean_degree(topology):
    g, _ = _graph(topology)
    assert set(g.nodes) == set(range(410))
    assert all(d["layer"] == "social" for _, _, d in g.edges(data=True))
    degrees = [g.degree(n) for n in range(400)]
    assert 3.0 < np.mean(degrees) < 9.0
    assert all(g.degree(n) == 0 for n in range(400, 410))  # institutions: no social edges


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_same_seed_same_graph_different_seed_different_graph(topology):
    a, _ = _graph(topology, seed=7)
    b, _ = _graph(topology, seed=7)
    c, _ = _graph(topology, seed=8)
    assert sorted(a.edges) == sorted(b.edges)
    assert sorted(a.edges) != sorted(c.edges)


def test_savers_cluster_by_employer_in_the_block_model():
    g, employer = _graph("stochastic_block", n_s=1000, n_r=200, n_i=0)
    saver_edges = [(u, v) for u, v in g.edges() if u < 1000 and v < 1000]
    same = np.mean([employer[u] == employer[v] for u, v in saver_edges])
    assert same > 0.6  # within_block_share 0.8 vs ~0.2 by chance for Zipf employers


def _random_block_model(r: random.Random) -> tuple[list[int], np.ndarray]:
    sizes = [r.randint(1, 60) for _ in range(r.randint(1, 12))]
    p = np.array(
        [[r.choice([0.0, 1.0, 0.3 * r.random(), r.random()]) for _ in sizes] for _ in sizes]
    )
    return sizes, (p + p.T) / 2


def test_block_model_is_networkx_s_graph_from_the_same_draws():
    # the arithmetic skips reproduce networkx's sampler exactly, so results made before
    # the rewrite stay valid: same edges, and the generator left in the same state
    for trial in range(40):
        sizes, p = _random_block_model(random.Random(trial))
        ours, theirs = random.Random(trial), random.Random(trial)
        edges = block_model_edges(sizes, p, ours)
        g = nx.stochastic_block_model(sizes, p.tolist(), seed=theirs, sparse=True)
        assert sorted(map(tuple, np.sort(edges, axis=1).tolist())) == sorted(
            tuple(sorted(e)) for e in g.edges()
        )
        assert ours.random() == theirs.random()


def _python_block_model_edges(sizes: list[int], p: np.ndarray, py_random: random.Random):
    """The sampler as it was written in Python before it was compiled (commit 63a7706): the
    oracle of the compiled pass's edges, in their order, and of the draws it takes."""
    bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(int).tolist()
    parts = [list(set(range(bounds[x], bounds[x + 1]))) for x in range(len(sizes))]
    us, vs = [], []
    for i in range(len(sizes)):
        for j in range(i, len(sizes)):
            prob = min(float(p[i][j]), 1.0)
            if prob <= 0:
                continue
            a, b = parts[i], parts[j]
            total = len(a) * (len(a) - 1) // 2 if i == j else len(a) * len(b)
            log_q = math.log(1 - prob) if prob < 1 else 0.0
            pos = 0 if prob == 1 else math.floor(math.log(py_random.random()) / log_q)
            row, start = 0, 0  # combinations(a, 2): the row of pair `pos` and its first pair
            while pos < total:
                if i == j:
                    while pos >= start + len(a) - 1 - row:
                        start += len(a) - 1 - row
                        row += 1
                    u, v = a[row], a[row + 1 + pos - start]
                else:
                    u, v = a[pos // len(b)], b[pos % len(b)]
                us.append(u)
                vs.append(v)
                pos += 1 + (0 if prob == 1 else math.floor(math.log(py_random.random()) / log_q))
    return np.column_stack([np.array(us, dtype=np.int64), np.array(vs, dtype=np.int64)])


@given(st.integers(0, 2**64 - 1), st.integers(0, 2**32 - 1))
def test_block_model_pass_gives_python_s_edges_in_order_and_leaves_the_same_state(trial, seed):
    sizes, p = _random_block_model(random.Random(trial))
    ours, theirs = random.Random(seed), random.Random(seed)
    edges = block_model_edges(sizes, p, ours)
    oracle = _python_block_model_edges(sizes, p, theirs)
    assert edges.dtype == np.int64 and edges.shape == oracle.shape
    assert np.array_equal(edges, oracle)
    assert ours.getstate() == theirs.getstate()


def test_block_model_refuses_what_is_not_a_probability_or_cpython_s_generator():
    class Half(random.Random):
        def random(self) -> float:
            return 0.5

    for p in ([[1.5]], [[np.nan]], [[-0.1]], [[0.5, 0.5]]):
        with pytest.raises(ValueError, match="probabilities in"):
            block_model_edges([3], np.array(p), random.Random(0))
    with pytest.raises(TypeError, match="CPython's random"):
        block_model_edges([3], np.array([[0.5]]), Half(0))
    assert block_model_edges([], np.zeros((0, 0)), random.Random(0)).shape == (0, 2)
    assert block_model_edges([], [], random.Random(0)).shape == (0, 2)


def test_compiled_draws_are_python_s_random_bit_for_bit_across_many_twists():
    # 10,000 random() calls are 20,000 words: 32 regenerations of MT19937's 624 words
    python = random.Random(2026)
    python.random()  # a position inside the words, not at their start
    _, words, _ = python.getstate()
    mt, at = np.array(words[:-1], dtype=np.int64), np.array([words[-1]], dtype=np.int64)
    ours = np.array([_mt_random(mt, at) for _ in range(10_000)])
    theirs = np.array([python.random() for _ in range(10_000)])
    assert np.array_equal(ours.view(np.int64), theirs.view(np.int64))
    assert (*mt.tolist(), int(at[0])) == python.getstate()[1]


def test_fear_share_over_sparse_adjacency():
    # nodes 0-1 savers, 2-3 traders, 4 an institution
    adj = social_adjacency(np.array([(0, 1), (0, 2), (1, 2), (2, 3), (1, 4)]), 5)
    degree = np.asarray(adj.sum(axis=1))[:2]
    none = np.full(2, -1)

    def share(panicked, afraid, failed, saver_exchange):
        return fear_share(
            np.array(panicked),
            np.array(afraid),
            np.array(failed),
            np.array(saver_exchange),
            none,
            adj.indptr,
            adj.indices,
            degree,
        )

    # trader 2 in fear: half of saver 0's neighbours (1, 2), a third of saver 1's (0, 2, 4)
    assert np.allclose(share([False, False], [True, False], [False], none), [0.5, 1 / 3])
    # saver 1's exchange failed: it frightens saver 0 too
    assert np.allclose(share([False, False], [True, False], [True], [-1, 0]), [1.0, 1 / 3])
    assert np.allclose(share([True, False], [False, False], [False], none), [0.0, 1 / 3])


def test_model_graph_has_exposure_layer_and_agents_on_nodes():
    m = Crypto401kModel(small_config())
    layers = {d["layer"] for _, _, d in m.graph.edges(data=True)}
    assert layers == {"social", "exposure"}
    first_inst = m.savers.n + m.traders.n
    for u, v, d in m.graph.edges(data=True):
        if d["layer"] == "exposure":
            assert u >= first_inst and v >= first_inst
    saver = m.agents_by_type[next(t for t in m.agent_types if t.__name__ == "RetirementSaver")]
    a = saver.to_list()[5]
    assert a.cell.coordinate == a.row


def test_graphml_topology(tmp_path):
    cfg = small_config()
    n = cfg.savers.n_cohorts + cfg.traders.n_traders + cfg.n_institutions
    g = nx.path_graph(n)
    path = tmp_path / "g.graphml"
    nx.write_graphml(g, path)
    m = Crypto401kModel(
        cfg.with_overrides({"network.topology": "graphml", "network.graphml_path": str(path)})
    )
    social = [(u, v) for u, v, d in m.graph.edges(data=True) if d["layer"] == "social"]
    assert len(social) == n - 1


def test_graphml_with_wrong_nodes_is_a_config_error(tmp_path):
    path = tmp_path / "g.graphml"
    nx.write_graphml(nx.path_graph(5), path)
    cfg = small_config(network__topology="graphml", network__graphml_path=str(path))
    with pytest.raises(ConfigError, match="must have exactly the nodes"):
        Crypto401kModel(cfg)


def test_graph_and_grid_are_built_on_first_use_and_match_the_engine():
    m = Crypto401kModel(small_config())
    assert "graph" not in vars(m) and "grid" not in vars(m)
    agent = m.agents.select(agent_type=Institution).to_list()[-1]
    assert agent.cell.coordinate == agent.node == m.n_nodes - 1  # builds graph and grid
    g = nx.Graph((u, v) for u, v, d in m.graph.edges(data=True) if d["layer"] == "social")
    g.add_nodes_from(range(m.n_nodes))
    dense = nx.to_numpy_array(g, nodelist=range(m.n_nodes))
    assert np.array_equal(dense, m.social_adj.toarray())
    assert all(len(cell.agents) == 1 for cell in m.grid.all_cells)


def test_an_agent_removed_before_the_grid_exists_leaves_cleanly():
    m = Crypto401kModel(small_config())
    agent = m.agents.select(agent_type=Institution).to_list()[0]
    agent.detach()  # the view only (remove() raises: the row would keep trading)
    assert "grid" not in vars(m) and agent not in m.agents
    assert all(a is not agent for cell in m.grid.all_cells for a in cell.agents)


def test_adjacencies_have_one_index_type_whatever_the_network():
    """int64 indices for an empty network too (scipy picks int32 for it), so that one
    compiled version of the rules that read them serves every network."""
    for edges in (np.zeros((0, 2), dtype=np.int64), np.array([(0, 1), (1, 2)])):
        adj = social_adjacency(edges, 4)
        for part in (adj, adj[:2], adj[1:3][:, 1:3]):
            assert part.indices.dtype == part.indptr.dtype == np.int64


def test_the_fear_share_refuses_the_savers_rows_alone():
    """It reads the rows of every saver and trader in fear: a slice would be read past."""
    adj = social_adjacency(np.array([(0, 1), (0, 2), (1, 2), (2, 3)]), 4)
    savers = adj[:2]
    with pytest.raises(ValueError, match="whole social adjacency"):
        fear_share(
            np.zeros(2, bool), np.ones(2, bool), np.zeros(0, bool), np.full(2, -1),
            np.full(2, -1), savers.indptr, savers.indices, np.ones(2),
        )  # fmt: skip
