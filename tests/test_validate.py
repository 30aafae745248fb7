"""`crypto401k validate`: the table, the JSON, the MSM distance, the figures, bad input."""

import json

import numpy as np
import pytest
from crypto401k.experiments.cli import main
from crypto401k.experiments.validate import MSM_MOMENTS, bootstrap_moment_cov, msm_distance
from crypto401k.model import metrics
from crypto401k.model.data import load_btc_close


def test_validate_json_has_every_fact_and_a_distance(tmp_path, capsys):
    code = main(
        [
            "validate",
            "--seeds",
            "2",
            "--years",
            "0.5",
            "--workers",
            "1",
            "--json",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["facts"]) == set(metrics.FACT_NAMES)
    for fact in result["facts"].values():
        assert set(fact) == {"real", "model_mean", "model_p05", "model_p95", "in_band"}
        assert fact["model_p05"] <= fact["model_mean"] <= fact["model_p95"]
        assert fact["in_band"] == (fact["model_p05"] <= fact["real"] <= fact["model_p95"])
    assert result["facts"]["annualized_volatility"]["real"] == pytest.approx(0.755, abs=0.001)
    assert result["msm_distance"] > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "acf_abs_returns.png",
        "return_distribution.png",
    ]


def test_validate_result_does_not_depend_on_workers(tmp_path, capsys):
    outs = []
    for workers in ("1", "2"):
        main(
            [
                "validate",
                "--seeds",
                "2",
                "--years",
                "0.4",
                "--workers",
                workers,
                "--json",
                "--out",
                str(tmp_path / workers),
            ]
        )
        outs.append(json.loads(capsys.readouterr().out))
    assert outs[0] == outs[1]


def test_msm_distance_is_zero_at_the_real_moments_and_grows_away():
    _, close = load_btc_close()
    r = metrics.log_returns(close)
    cov = bootstrap_moment_cov(r, draws=100)
    assert cov.shape == (len(MSM_MOMENTS), len(MSM_MOMENTS))
    real = np.array([metrics.stylized_facts(close)[k] for k in MSM_MOMENTS])
    assert msm_distance(real, real, cov) == pytest.approx(0.0, abs=1e-12)
    near, far = real.copy(), real.copy()
    near[0] += 0.05
    far[0] += 0.20
    assert 0 < msm_distance(near, real, cov) < msm_distance(far, real, cov)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--seeds", "0"], "--seeds = 0"),
        (["--seeds", "many"], "--seeds = 'many'"),
        (["--years", "-1"], "--years = -1"),
        (["--workers", "0"], "--workers = 0"),
        (["--data", "/no/such.csv"], "--data"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, args, fragment):
    code = main(["validate", "--out", str(tmp_path / "figs"), *args])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and fragment in err
    assert not (tmp_path / "figs").exists()


def test_unreadable_data_file(tmp_path, capsys):
    bad = tmp_path / "btc.csv"
    bad.write_text("day,price\n1,2\n")
    assert main(["validate", "--data", str(bad), "--out", str(tmp_path / "f")]) == 2
    assert "cannot read a date,close series" in capsys.readouterr().err


def test_calibrate_scores_every_grid_point_best_first(capsys):
    from crypto401k.experiments.calibrate import GRID

    assert main(["calibrate", "--seeds", "1", "--years", "0.4", "--workers", "1"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    n_points = int(np.prod([len(v) for v in GRID.values()]))
    assert len(lines) == 2 + n_points
    distances = [float(line.split("|")[3]) for line in lines[2:]]
    assert distances == sorted(distances) and all(d > 0 for d in distances)


def test_calibrate_bad_input(capsys):
    assert main(["calibrate", "--seeds", "0"]) == 2
    assert "--seeds = 0" in capsys.readouterr().err


def test_validate_assets_reports_each_asset_and_pair_beside_bitcoin(tmp_path, capsys):
    argv = ["validate", "--assets", "--seeds", "2", "--years", "0.4", "--workers", "1"]
    assert main([*argv, "--json", "--out", str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["facts"]) == set(metrics.FACT_NAMES)  # the single-asset facts stay
    several = result["several_assets"]["facts"]
    assert len(several) == 6  # three volatilities, three pairs
    real = {k: v["real"] for k, v in several.items()}
    assert real["volatility BTC (BTC)"] == pytest.approx(0.755, abs=0.001)
    assert real["volatility ETH (ETH)"] == pytest.approx(1.00, abs=0.01)
    assert real["volatility DEFI (LTC)"] == pytest.approx(1.14, abs=0.01)
    assert real["correlation BTC-ETH"] == pytest.approx(0.75, abs=0.01)
    assert real["correlation ETH-DEFI"] == pytest.approx(0.81, abs=0.01)
    for fact in several.values():
        assert fact["model_p05"] <= fact["model_mean"] <= fact["model_p95"]
        assert fact["in_band"] == (fact["model_p05"] <= fact["real"] <= fact["model_p95"])
    assert main([*argv, "--out", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    assert "several assets" in table and "correlation BTC-ETH" in table


def test_validate_assets_refuses_a_file_without_the_three_series(tmp_path, capsys):
    bad = tmp_path / "two.csv"
    bad.write_text("date,btc_close,eth_close\n2020-01-01,1,2\n2020-01-02,2,3\n")
    argv = ["validate", "--assets", "--assets-data", str(bad), "--out", str(tmp_path / "f")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--assets-data" in err and "ltc_close" in err and err.count("\n") == 1
    assert not (tmp_path / "f").exists()
