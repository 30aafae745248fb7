"""How much memory a run needs, estimated before anything is built, so that a run too big for
the machine is refused up front instead of being killed by the kernel.

The coefficients are peak resident memory measured on this project's model (Linux, CPython
3.12, numpy 2) by `benchmarks/run.py`, with a margin of about 25%:

- per agent (state arrays, the Mesa agent object, its registration): measured 456 bytes;
- per social edge (edge array, sparse adjacency in both directions, construction lists):
  measured 90 bytes for the stochastic-block model, about 230 for the topologies whose
  networkx generator builds a graph first (Barabasi-Albert, Watts-Strogatz, Erdos-Renyi,
  GraphML);
- per agent and day recorded when `run.collect_agent_data` is on: measured 103 bytes;
- per day of model reporters: about 1 kB;
- the interpreter with numpy, pandas, networkx, Mesa and numba loaded, the engine's compiled
  kernels in memory: measured 320 MB on this machine (numba and LLVM are about 140 MB of
  it; before them it was 153 to 203 MB, depending on the install, a fresh CI venv the
  larger).

The networkx graph and Mesa's `Network` space are built only on first use (the browser app,
`model.graph`), and are not counted: a batch run never builds them.
"""

from __future__ import annotations

from pathlib import Path

from crypto401k.model.config import Config, ConfigError

BYTES_PER_AGENT = 600
BYTES_PER_EDGE = 120
BYTES_PER_EDGE_NETWORKX = 300  # topologies whose generator builds an nx.Graph first
BYTES_PER_AGENT_DAY = 130  # only when run.collect_agent_data is on
BYTES_PER_DAY = 2_000
BYTES_FIXED = 450_000_000


def estimate_bytes(
    cfg: Config, steps: int | None = None, bytes_per_agent: int = BYTES_PER_AGENT
) -> int:
    """Peak memory of a run of `cfg` for `steps` days (default `cfg.run.steps`), bytes.
    `bytes_per_agent` replaces the engine's figure for other implementations."""
    steps = cfg.run.steps if steps is None else steps
    n_social = cfg.savers.n_cohorts + cfg.traders.n_traders
    n_agents = n_social + cfg.n_institutions
    edges = n_social * cfg.network.mean_degree / 2
    per_edge = (
        BYTES_PER_EDGE if cfg.network.topology == "stochastic_block" else BYTES_PER_EDGE_NETWORKX
    )
    per_day = BYTES_PER_DAY + (BYTES_PER_AGENT_DAY * n_agents if cfg.run.collect_agent_data else 0)
    return int(BYTES_FIXED + bytes_per_agent * n_agents + per_edge * edges + per_day * steps)


def available_bytes() -> int | None:
    """Memory the kernel can give a new process now (Linux `MemAvailable`), else the
    physical memory, else None."""
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    try:
        import os

        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_fits(
    cfg: Config,
    steps: int | None = None,
    available: int | None = None,
    copies: int = 1,
    bytes_per_agent: int = BYTES_PER_AGENT,
) -> int:
    """The estimate, bytes; a ConfigError naming the sizes if `copies` runs at once would
    not fit in `available` bytes (default: what the machine has available now)."""
    need = estimate_bytes(cfg, steps, bytes_per_agent) * copies
    have = available_bytes() if available is None else available
    if have is not None and need > have:
        n_agents = cfg.savers.n_cohorts + cfg.traders.n_traders + cfg.n_institutions
        days = cfg.run.steps if steps is None else steps
        times = f" x {copies} runs at once" if copies > 1 else ""
        advice = "fewer agents or days"
        if cfg.run.collect_agent_data:
            advice += ", or run.collect_agent_data = false"
        raise ConfigError(
            f"savers.n_cohorts + traders.n_traders + institutions = {n_agents:,} agents over "
            f"{days:,} days{times}: needs about {gb(need)} of memory, and this machine has "
            f"{gb(have)} available; use {advice}"
        )
    return need


def gb(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:.2f} GB"
