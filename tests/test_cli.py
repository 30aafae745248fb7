"""The `crypto401k` command line: outputs, summary, and bad input."""

import json
import subprocess
import sys

import networkx as nx
import pandas as pd
import pytest
from crypto401k.experiments.cli import main

SMALL = [
    "--set",
    "savers.n_cohorts=100",
    "--set",
    "traders.n_traders=80",
    "--set",
    "savers.n_employers=5",
]


def test_run_writes_timeseries_summary_and_config(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "run",
            "--config",
            "four_assets",
            "--steps",
            "120",
            "--seed",
            "7",
            "--out",
            str(out),
            "--set",
            "savers.allocation=0.03",
            "--set",
            "exchanges.fail_day=60",
            *SMALL,
        ]
    )
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "config.toml",
        "summary.json",
        "timeseries.csv",
        "timeseries.parquet",
    ]
    ts = pd.read_parquet(out / "timeseries.parquet")
    assert len(ts) == 121
    for column in [
        "price",
        "fundamental",
        "log_return",
        "volatility_30d",
        "depth_usd",
        "flow_savers",
        "flow_traders",
        "flow_institutions",
        "saver_crypto_wealth",
        "saver_loss",
        "panicked_savers",
        "fund_leverage",
        "defaults",
        "regulator_pressure",
        "policy_level",
    ]:
        assert column in ts.columns
    csv = pd.read_csv(out / "timeseries.csv", index_col="day")
    assert csv["price"].to_numpy() == pytest.approx(ts["price"].to_numpy())
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 7 and summary["days"] == 120
    assert summary["metrics"]["annualized_volatility"] > 0
    assert summary["metrics"]["max_drawdown"] <= 0
    assert abs(summary["books"]["cash_error_usd"]) < 1.0
    assert summary["books"]["ok"], summary["books"]  # a failed books check is an error
    printed = capsys.readouterr().out
    assert "books        balanced" in printed
    assert "annualized volatility" in printed and "regulator" in printed
    # the four-asset scenario's other assets, exchanges and stablecoin are summarized too
    assert list(summary["prices"]) == ["BTC", "ETH", "DEFI", "USDC"]
    assert summary["prices"]["USDC"]["min"] == summary["metrics"]["depeg_min_price"]
    assert summary["prices"]["BTC"]["final"] == pytest.approx(ts["price"].iloc[-1], rel=1e-15)
    assert summary["agents"]["exchanges"] == 20
    failed = summary["events"]["exchanges"]["failed"]
    assert 0 in failed and summary["metrics"]["exchange_failures"] == len(failed)
    # the event window, cut at the run's end: day 60's failure, 180 days asked, 120 run
    assert summary["event_window"] == {"day": 60, "last_day": 119, "days": 180}
    assert summary["metrics"]["shock_loss_usd"] > 0
    for line in (
        "ETH ",
        "DEFI ",
        "exchanges    ",
        "stablecoin   low $",
        "event        day 60",
    ):
        assert line in printed, line


def test_summary_metrics_are_the_sweeps_metrics_of_the_same_run(tmp_path):
    """One definition: summary.json's metrics are `run_metrics`' for the same configuration
    and seed (null in JSON where the sweep records NaN)."""
    from crypto401k.experiments.outcomes import run_metrics

    out = tmp_path / "run"
    sets = {"shock.day": 30, "shock.fundamental_drop": 0.4, "run.event_window_days": 40}
    argv = ["run", "--steps", "90", "--seed", "3", "--out", str(out), "--quiet", *SMALL]
    assert main(argv + [x for k, v in sets.items() for x in ("--set", f"{k}={v}")]) == 0
    summary = json.loads((out / "summary.json").read_text())
    small = {k: int(v) for k, v in (x.split("=") for x in SMALL[1::2])}
    sweep = run_metrics({**small, **sets, "run.steps": 90}, 3, 40)
    assert not sweep.pop("_diverged")
    assert summary["metrics"] == {k: None if v != v else v for k, v in sweep.items()}
    assert summary["metrics"]["shock_loss_usd"] is not None


def test_saved_config_reproduces_the_run(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert (
        main(
            [
                "run",
                "--steps",
                "60",
                "--out",
                str(a),
                "--quiet",
                *SMALL,
                "--set",
                "savers.allocation=0.05",
            ]
        )
        == 0
    )
    assert main(["run", "--config", str(a / "config.toml"), "--out", str(b), "--quiet"]) == 0
    pa = pd.read_parquet(a / "timeseries.parquet")
    pb = pd.read_parquet(b / "timeseries.parquet")
    assert pa.equals(pb)


def test_rerun_replaces_an_earlier_run(tmp_path):
    out = tmp_path / "run"
    assert main(["run", "--steps", "30", "--out", str(out), "--quiet", *SMALL]) == 0
    assert main(["run", "--steps", "40", "--out", str(out), "--quiet", *SMALL]) == 0
    assert len(pd.read_parquet(out / "timeseries.parquet")) == 41
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no temporary leftovers


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--set", "savers.allocation=1.5"], ["savers.allocation = 1.5", "less than or equal"]),
        (["--set", "savers.n_cohorts=-3"], ["savers.n_cohorts = -3"]),
        (["--set", "regulator.lag_days=-1"], ["regulator.lag_days = -1"]),
        (["--set", "agencies.dol.final_days=-5"], ["agencies.dol.final_days = -5"]),
        (["--set", "fiscal.roth_share=1.2"], ["fiscal.roth_share = 1.2"]),
        (["--set", "fiscal.tax_rate=-0.1"], ["fiscal.tax_rate = -0.1"]),
        (["--set", "network.topology=ring"], ["network.topology = 'ring'"]),
        (["--set", "savers.alocation=0.1"], ["savers.alocation", "unknown parameter"]),
        (["--set", "savers.allocation"], ["key=value"]),
        (["--steps", "0"], ["run.steps = 0"]),
        (["--steps", "ten"], ["run.steps = 'ten'"]),
        (["--seed", "-1"], ["run.seed = -1"]),
        (["--config", "/no/such/file.toml"], ["no such file"]),
        (
            ["--set", "network.topology=graphml", "--set", "network.graphml_path=/no/such.graphml"],
            ["network.graphml_path", "no such"],
        ),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, args, fragments):
    out = tmp_path / "run"
    code = main(["run", "--out", str(out), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("crypto401k: error: ")
    for fragment in fragments:
        assert fragment in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("rule", "fragment"),
    [
        ('agencies = ["FED"]\ninstrument = "freeze"', "agencies.rules.0.agencies = ['FED']"),
        ('agencies = ["DOL"]\ninstrument = "bailout"', "agencies.rules.0.instrument = 'bailout'"),
    ],
)
def test_a_rule_naming_an_unknown_agency_or_instrument_exits_2(tmp_path, capsys, rule, fragment):
    scenario = tmp_path / "bad.toml"
    scenario.write_text(f"[agencies]\nenabled = true\n\n[[agencies.rules]]\n{rule}\n")
    out = tmp_path / "run"
    assert main(["run", "--config", str(scenario), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err and not out.exists()


def test_malformed_toml_and_graphml(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[savers\nallocation = 0.1\n")
    assert main(["run", "--config", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "not valid TOML" in capsys.readouterr().err
    graph = tmp_path / "g.graphml"
    graph.write_text("<graphml><broken>")
    assert (
        main(
            [
                "run",
                "--out",
                str(tmp_path / "o"),
                "--set",
                "network.topology=graphml",
                "--set",
                f"network.graphml_path={graph}",
            ]
        )
        == 2
    )
    assert "not a readable GraphML" in capsys.readouterr().err
    small = tmp_path / "small.graphml"
    nx.write_graphml(nx.path_graph(3), small)
    assert (
        main(
            [
                "run",
                "--out",
                str(tmp_path / "o"),
                "--set",
                "network.topology=graphml",
                "--set",
                f"network.graphml_path={small}",
            ]
        )
        == 2
    )
    assert "must have exactly the nodes" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml", "g.graphml", "small.graphml"]


def test_refuses_to_overwrite_a_foreign_directory(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    assert main(["run", "--out", str(out), *SMALL]) == 2
    assert "thesis.tex" in capsys.readouterr().err
    assert (out / "thesis.tex").read_text() == "precious"


def test_console_script_usage_error_is_one_line_exit_2():
    proc = subprocess.run(
        [sys.executable, "-m", "crypto401k.experiments.cli", "run", "--bogus"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "unrecognized arguments" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_params_lists_every_parameter(capsys):
    assert main(["params", "--markdown"]) == 0
    table = capsys.readouterr().out
    assert "| `savers.allocation` | 0.01 | fraction |" in table
    assert "ICI" in table


def test_example_scenarios_load():
    from pathlib import Path

    from crypto401k.model.config import Config

    files = sorted(Path(__file__).parent.parent.joinpath("scenarios").glob("*.toml"))
    assert files
    for f in files:
        Config.from_toml(f)


def test_a_closed_pipe_is_not_a_traceback():
    # stdout is a pipe whose reader is gone (as after `| head`): the first flush fails
    import subprocess
    import sys

    code = (
        "import os; r, w = os.pipe(); os.close(r); os.dup2(w, 1); "
        "from crypto401k.experiments.cli import main; raise SystemExit(main(['params']))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0
    assert "Traceback" not in run.stderr and "BrokenPipe" not in run.stderr
