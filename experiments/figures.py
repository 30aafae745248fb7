"""Figures of a sweep (seaborn, PNG): means with 95% confidence intervals over seeds, the
same intervals as the summary's tables (Student-t; Wilson for a 0/1 rate)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from crypto401k.experiments.analysis import is_binary, mean_ci
from crypto401k.experiments.registry import metric_info
from crypto401k.experiments.spec import Spec
from crypto401k.model.config import parameter_table

DPI = 120


def _units() -> dict[str, str]:
    return {r["parameter"]: r["unit"] for r in parameter_table()}


def axis_label(name: str) -> str:
    """'savers.allocation [fraction]' for a parameter; 'annualized volatility [..]' for a metric."""
    try:
        m = metric_info(name)
    except ValueError:  # a parameter
        unit = _units().get(name, "-")
        return f"{name} [{unit}]"
    return f"{m.label} [{m.unit}]"


def _save(fig, path: Path) -> Path:
    tmp = path.with_name(f".tmp-{path.name}")
    fig.savefig(tmp, dpi=DPI, bbox_inches="tight", format="png")
    os.replace(tmp, path)
    return path


def interval(binary: bool = False) -> Callable[[np.ndarray], tuple[float, float]]:
    """The figures' error bar for seaborn: the 95% interval the tables give (`mean_ci`): a
    Student-t interval of the mean, or for a 0/1 rate its Wilson interval. (Seaborn's own
    bootstrap would draw intervals that differ from the tables' and cost most of a quick
    experiment's time.)"""

    def bounds(values: np.ndarray) -> tuple[float, float]:
        _, low, high = mean_ci(values, binary=binary)
        return low, high

    return bounds


def levels(values: pd.Series) -> list:
    """The values of a plotted column in the order seaborn puts them on an axis: sorted if
    numeric, else in order of first appearance (as `catplot` orders them across panels)."""
    found = [v for v in values.unique() if pd.notna(v)]
    return sorted(found) if pd.api.types.is_numeric_dtype(values) else found


def _point_figure(
    data: pd.DataFrame,
    x: str,
    y: str,
    hue: str | None,
    col: str | None,
    ylabel: str,
    title: str,
    path: Path,
    errorbar: Callable[[np.ndarray], tuple[float, float]],
) -> Path:
    """Means of y against x with the given error bars (lines only for a numeric x), one
    panel per value of `col`, one line per value of `hue` (legend right of the last panel).

    Seaborn's `pointplot` on panels of one figure, not its figure-level `catplot` (the same
    drawing, with the same x and hue order in every panel: `catplot`'s facet grid took about
    0.1 s a figure of its own, half a figure's time)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    panels = levels(data[col]) if col is not None else [None]
    fig, axes = plt.subplots(
        1, len(panels), figsize=(4.32 * len(panels), 3.6), sharey=True, squeeze=False
    )
    numeric_x, order = pd.api.types.is_numeric_dtype(data[x]), levels(data[x])
    hue_order = None
    if hue is not None:  # as names: seaborn colours a numeric hue by each panel's own range
        hue_order = [str(v) for v in levels(data[hue])]
        data = data.assign(**{hue: data[hue].astype(str)})
    for k, (ax, panel) in enumerate(zip(axes[0], panels, strict=True)):
        last = k == len(panels) - 1
        sns.pointplot(
            data=data if col is None else data[data[col] == panel],
            x=x,
            y=y,
            hue=hue,
            order=order,
            hue_order=hue_order,
            linestyle="-" if numeric_x else "none",
            errorbar=errorbar,
            dodge=0.3 if hue is not None and len(hue_order) > 1 else False,
            capsize=0.1,
            legend=last,
            ax=ax,
        )
        if y == "effect":
            ax.axhline(0.0, color="0.4", lw=0.8, ls="--")
        if not numeric_x:  # category names: keep them apart
            ax.tick_params(axis="x", labelrotation=25)
        if col is not None:
            ax.set_title(f"{col} = {panel}")
        ax.set_xlabel(axis_label(x))
        ax.set_ylabel(ylabel if k == 0 else "")
    sns.despine(fig)  # as catplot draws its panels
    fig.tight_layout()  # long category names stay under their own panel
    if hue is not None:  # one legend, right of the panels (after the layout: outside them)
        legend = dict(bbox_to_anchor=(1.02, 0.5), title=hue, frameon=False)
        sns.move_legend(axes[0][-1], "center left", **legend)
    fig.suptitle(title, y=1.04, fontsize=10)
    _save(fig, path)
    plt.close(fig)
    return path


def figure_names(metrics: list[str], kind: str = "grid") -> list[str]:
    """The files the figures of a sweep are written to: per metric `METRIC.png` and
    `METRIC_effect.png` (a grid), or `morris.png` and `sobol.png` (a sensitivity analysis)."""
    if kind == "sensitivity":
        return ["morris.png", "sobol.png"]
    return [f"{m}{suffix}.png" for m in metrics for suffix in ("", "_effect")]


def remove_figures(out: Path, names: list[str]) -> None:
    """Delete the figures `names` (`figure_names`) an earlier sweep drew in experiment folder
    `out`: a summary written without figures must not sit beside figures of other runs.
    Other files, a user's own pictures included, stay."""
    for name in names:
        (out / name).unlink(missing_ok=True)


def plot_frame(runs: pd.DataFrame, spec: Spec) -> pd.DataFrame:
    """Runs ready to plot: a control twin lacks the parameters its experiment ignores (they
    cannot matter there), so its rows are repeated under each of their values."""
    df = runs[runs["status"] == "ok"].copy()
    dims = dimensions(spec)
    for key in spec.control_ignores:
        if key not in df:
            continue
        values = list(dims[key])
        missing = df[key].isna()
        copies = [df[missing].assign(**{key: v}) for v in values]
        df = pd.concat([df[~missing], *copies], ignore_index=True)
    return df


def dimensions(spec: Spec) -> dict[str, list]:
    """Every swept dimension with its values (variants by label), in the spec's order."""
    return {**spec.grid, **{k: list(v) for k, v in spec.variants.items()}}


def grid_figures(runs: pd.DataFrame, spec: Spec, out: Path) -> list[Path]:
    """One figure per headline metric: mean and 95% CI against the first swept parameter,
    one line per value of the second, one panel per value of the third."""
    import matplotlib

    matplotlib.use("Agg")
    import seaborn as sns

    df = plot_frame(runs, spec)
    dims = dimensions(spec)
    keys = [k for k in dims if k in df and df[k].nunique(dropna=False) > 1] if len(df) else []
    keys += [k for k in spec.control if k not in keys and k in df and df[k].nunique() > 1]
    x = keys[0] if keys else next(iter(dims))
    hue = keys[1] if len(keys) > 1 else None
    col = keys[2] if len(keys) > 2 else None
    if hue is not None:
        df[hue] = df[hue].astype(str)
    if col is not None:
        df[col] = df[col].astype(str)
    paths = []
    sns.set_theme(style="whitegrid")
    for metric in spec.metrics:
        data = df[np.isfinite(df[metric].astype(float))]
        if data.empty:  # nothing to draw: no figure, not an earlier sweep's left in place
            remove_figures(out, [f"{metric}.png"])
            continue
        title = f"{spec.name}: {metric_info(metric).label}\n(mean, 95% CI over seeds)"
        paths.append(
            _point_figure(
                data,
                x,
                metric,
                hue,
                col,
                axis_label(metric),
                title,
                out / f"{metric}.png",
                interval(binary=is_binary(metric)),
            )
        )
    return paths


def sensitivity_figures(
    morris: dict[str, pd.DataFrame], sobol: dict[str, pd.DataFrame], out: Path
) -> list[Path]:
    """Morris mu* with its CI, and Sobol S1/ST with theirs, one panel per metric."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for name, tables, cols in (
        ("morris", morris, [("mu_star", "mu_star_conf", "mu*")]),
        ("sobol", sobol, [("S1", "S1_conf", "first order S1"), ("ST", "ST_conf", "total ST")]),
    ):
        metrics = [m for m, t in tables.items() if len(t)]
        if not metrics:  # nothing to draw: no figure, not an earlier analysis's left in place
            remove_figures(out, [f"{name}.png"])
            continue
        fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics), 3.8), squeeze=False)
        for ax, metric in zip(axes[0], metrics, strict=True):
            t = tables[metric]
            y = np.arange(len(t))
            height = 0.8 / len(cols)
            for k, (val, conf, label) in enumerate(cols):
                ax.barh(
                    y + k * height,
                    t[val],
                    height,
                    xerr=t[conf],
                    capsize=3,
                    label=label,
                )
            ax.set_yticks(y + height * (len(cols) - 1) / 2, t["parameter"], fontsize=8)
            ax.invert_yaxis()
            unit = metric_info(metric).unit if name == "morris" else "share of variance"
            ax.set_xlabel(f"{cols[0][2] if name == 'morris' else 'index'} [{unit}]")
            ax.set_title(metric_info(metric).label, fontsize=10)
            ax.legend(fontsize=8)
        fig.suptitle(f"sensitivity: {name} (95% bootstrap CI)")
        fig.tight_layout()
        paths.append(_save(fig, out / f"{name}.png"))
        plt.close(fig)
    return paths


def paired_differences(
    runs: pd.DataFrame, control_of: dict[int, int | None], metric: str
) -> pd.DataFrame:
    """Per seed, each treatment's metric minus its control's on the same seed (the paired
    differences the summary's effects and tests are computed from)."""
    ok = runs[runs["status"] == "ok"]
    wide = ok.pivot(index="seed", columns="point", values=metric)
    params = ok.drop_duplicates("point").set_index("point")
    frames = []
    for point, ctrl in control_of.items():
        if ctrl is None or point not in wide or ctrl not in wide:
            continue
        d = (wide[point] - wide[ctrl]).dropna()
        # one construction (a column at a time costs pandas ~0.3 ms each, x ~60 columns)
        columns = {"seed": d.index, "effect": d.to_numpy(), "point": point}
        columns.update((k, params.loc[point, k]) for k in params.columns if k not in columns)
        frames.append(pd.DataFrame(columns))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def effect_figures(
    runs: pd.DataFrame, spec: Spec, control_of: dict[int, int | None], out: Path
) -> list[Path]:
    """One figure per headline metric: the paired effect against the control (mean and 95%
    CI of the per-seed differences), against the swept parameters."""
    import matplotlib

    matplotlib.use("Agg")

    dims = [k for k in dimensions(spec) if k not in spec.control]
    dims = [k for k in dimensions(spec) if k in spec.control] + dims
    paths = []
    for metric in spec.metrics:
        df = paired_differences(runs, control_of, metric)
        if df.empty:  # nothing to draw: no figure, not an earlier sweep's left in place
            remove_figures(out, [f"{metric}_effect.png"])
            continue
        keys = [k for k in dims if k in df and df[k].nunique() > 1]
        x = keys[0] if keys else dims[0]
        hue = keys[1] if len(keys) > 1 else None
        col = keys[2] if len(keys) > 2 else None
        for k in (hue, col):
            if k is not None:
                df[k] = df[k].astype(str)
        m = metric_info(metric)
        title = f"{spec.name}: effect on {m.label} vs control\n(paired by seed; mean, 95% CI)"
        ylabel = f"effect on {m.label} [{m.unit}]"
        paths.append(
            _point_figure(
                df,
                x,
                "effect",
                hue,
                col,
                ylabel,
                title,
                out / f"{metric}_effect.png",
                interval(),  # the effects' t interval, as in the tables
            )
        )
    return paths
