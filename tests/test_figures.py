"""The sweep's figures draw the tables' intervals: the error bar of each point is `mean_ci`'s."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from crypto401k.experiments import figures
from crypto401k.experiments.analysis import mean_ci


def _drawn_bars(monkeypatch, data: pd.DataFrame, errorbar) -> list[tuple[float, float]]:
    """The (low, high) of every error bar the figure draws (a bar and its caps are one
    line), left to right."""
    bars = []

    def keep(fig, path: Path) -> Path:
        for line in fig.axes[0].lines[1:]:  # the first is the line through the means
            x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
            bars.append((float(np.nanmean(x)), float(np.nanmin(y)), float(np.nanmax(y))))
        return path

    monkeypatch.setattr(figures, "_save", keep)
    figures._point_figure(data, "x", "y", None, None, "y", "t", Path("unused.png"), errorbar)
    return [(lo, hi) for _, lo, hi in sorted(bars)]


@pytest.mark.parametrize("binary", [False, True])
def test_each_error_bar_is_the_tables_interval(monkeypatch, binary):
    rng = np.random.default_rng(1)
    groups = {
        0.0: rng.normal(0.8, 0.1, 30),
        0.03: rng.normal(0.7, 0.3, 30),
        0.05: rng.lognormal(0.0, 1.0, 30),
    }
    if binary:
        groups = {
            k: (v > np.median(v) + 0.05 * i).astype(float)
            for i, (k, v) in enumerate(groups.items())
        }
    data = pd.concat(pd.DataFrame({"x": k, "y": v}) for k, v in groups.items())
    drawn = _drawn_bars(monkeypatch, data, figures.interval(binary=binary))
    expected = [mean_ci(v, binary=binary)[1:] for v in groups.values()]
    assert len(drawn) == 3
    np.testing.assert_allclose(drawn, expected, rtol=1e-12)
    if binary:  # Wilson, not a t interval: inside [0, 1] and not symmetric about the rate
        assert all(0.0 <= lo <= hi <= 1.0 for lo, hi in drawn)


def test_a_metric_with_nothing_to_draw_leaves_no_earlier_figure(tmp_path):
    """A metric with no finite value in any run gets no figure, and an earlier sweep's
    figure of it in the same folder is removed (it would show other runs)."""
    from crypto401k.experiments.spec import load_spec

    spec_file = tmp_path / "s.toml"
    spec_file.write_text(
        'name = "s"\nquestion = "q?"\nseeds = 2\nyears = 0.1\n'
        'metrics = ["annualized_volatility"]\n'
        '[grid]\n"savers.allocation" = [0.0, 0.05]\n'
        '[answer]\nmetric = "annualized_volatility"\n'
        'treatment = { "savers.allocation" = 0.05 }\nsubject = "Five percent"\n'
    )
    spec = load_spec(str(spec_file))
    runs = pd.DataFrame(
        {
            "point": [0, 0, 1, 1],
            "seed": [0, 1, 0, 1],
            "status": "ok",
            "savers.allocation": [0.0, 0.0, 0.05, 0.05],
            "annualized_volatility": np.nan,
        }
    )
    old = [tmp_path / "annualized_volatility.png", tmp_path / "annualized_volatility_effect.png"]
    for path in old:
        path.write_bytes(b"an earlier sweep's figure")
    mine = tmp_path / "my_own.png"
    mine.write_bytes(b"a user's picture")
    assert figures.grid_figures(runs, spec, tmp_path) == []
    assert figures.effect_figures(runs, spec, {0: None, 1: 0}, tmp_path) == []
    assert not any(path.exists() for path in old)
    assert mine.exists()
    no_tables = {"annualized_volatility": pd.DataFrame()}
    (tmp_path / "sobol.png").write_bytes(b"old")
    assert figures.sensitivity_figures(no_tables, no_tables, tmp_path) == []
    assert not (tmp_path / "sobol.png").exists()


def test_panels_share_the_x_and_hue_order_and_one_legend(monkeypatch):
    """Panels drawn one by one keep one x order and one hue order (colour) across the
    figure, even where a panel lacks a value (here "right" lacks x = 0.05 and hue "b"), as
    seaborn's catplot did; one legend."""
    data = pd.DataFrame(
        {
            "x": [0.05, 0.0, 0.05, 0.0, 0.0, 0.0],  # "right" lacks x = 0.05
            "y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "hue": ["b", "a", "b", "a", "a", "a"],
            "col": ["left", "left", "left", "left", "right", "right"],
        }
    )
    data = pd.concat([data, data.assign(y=data["y"] + 0.5)], ignore_index=True)
    seen = {}

    def keep(fig, path: Path) -> Path:
        seen["axes"] = fig.axes
        return path

    monkeypatch.setattr(figures, "_save", keep)
    figures._point_figure(data, "x", "y", "hue", "col", "y", "t", Path("unused.png"), "sd")
    left, right = seen["axes"]
    labels = [[t.get_text() for t in ax.get_xticklabels()] for ax in (left, right)]
    assert labels[0] == labels[1] == ["0.0", "0.05"]
    assert [left.get_title(), right.get_title()] == ["col = left", "col = right"]
    assert left.get_legend() is None
    legend = right.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == figures.levels(data["hue"]) == ["b", "a"]

    def colours(ax) -> list[str]:  # each drawn hue's line through the means, in hue order
        means = [line for line in ax.lines if line.get_marker() == "o" and len(line.get_xdata())]
        return [str(line.get_color()) for line in means if line.get_label().startswith("_")]

    # hue "a" has the second colour in both panels ("b" came first)
    assert len(set(colours(left))) == 2 and colours(right) == [colours(left)[1]]


def test_a_numeric_hue_keeps_its_colour_in_a_panel_that_lacks_a_level(monkeypatch):
    """seaborn colours a numeric hue by each panel's own range: the figures name it instead,
    so 12.0 is the second colour in both panels though "right" has no 4.0."""
    data = pd.DataFrame(
        {
            "x": ["a", "a", "b", "b", "a", "b"] * 2,
            "y": np.arange(12, dtype=float),
            "hue": [4.0, 12.0, 4.0, 12.0, 12.0, 12.0] * 2,
            "col": ["left"] * 4 + ["right"] * 2 + ["left"] * 4 + ["right"] * 2,
        }
    )
    seen = {}
    monkeypatch.setattr(figures, "_save", lambda fig, path: seen.setdefault("axes", fig.axes))
    figures._point_figure(data, "x", "y", "hue", "col", "y", "t", Path("unused.png"), "sd")
    left, right = seen["axes"]

    def colours(ax) -> list[str]:
        means = [line for line in ax.lines if line.get_marker() == "o" and len(line.get_xdata())]
        return [str(line.get_color()) for line in means if line.get_label().startswith("_")]

    assert len(set(colours(left))) == 2 and colours(right) == [colours(left)[1]]
    assert [t.get_text() for t in right.get_legend().get_texts()] == ["4.0", "12.0"]
