import pytest
from crypto401k.model.config import Config, ConfigError, parameter_table, parse_set_option


def test_default_scenario_is_valid_and_complete():
    cfg = Config()
    assert cfg.n_assets == 1
    assert cfg.savers.plan_assets_usd == 8.7e12
    assert cfg.run.steps == 3650


def test_every_parameter_has_unit_meaning_and_source():
    rows = parameter_table()
    assert len(rows) > 80
    for row in rows:
        assert row["unit"], row["parameter"]
        assert row["meaning"], row["parameter"]
        assert row["source"] not in ("", "-"), row["parameter"]


def test_toml_round_trip(tmp_path):
    import tomli_w

    cfg = Config().with_overrides({"savers.allocation": 0.03, "shock.day": 100})
    path = tmp_path / "s.toml"
    path.write_text(tomli_w.dumps(cfg.to_toml_dict()))
    assert Config.from_toml(path) == cfg


def test_partial_toml_keeps_other_defaults(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("[savers]\nallocation = 0.05\nchannel = 'payroll+reallocation'\n")
    cfg = Config.from_toml(path)
    assert cfg.savers.allocation == 0.05
    assert cfg.savers.channel == "payroll+reallocation"
    assert cfg.traders == Config().traders


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        ({"savers.allocation": 1.5}, ["savers.allocation", "1.5", "less than or equal to 1"]),
        ({"savers.n_cohorts": -1}, ["savers.n_cohorts", "-1", "greater than or equal to 0"]),
        ({"regulator.lag_days": -1}, ["regulator.lag_days", "-1", "greater than or equal to 0"]),
        ({"network.topology": "ring"}, ["network.topology", "ring", "barabasi_albert"]),
        ({"savers.bogus": 1}, ["savers.bogus", "unknown parameter", "allocation"]),
        ({"nosuch.x": 1}, ["nosuch", "unknown section"]),
        ({"savers.menu": [0.5, 0.6]}, ["savers.menu", "summing to 1"]),
        ({"market.correlation": [[1.0, 0.5]]}, ["market.correlation", "1x1"]),
        ({"institutions.leverage_max": 1.0}, ["institutions.leverage_max", "leverage_target"]),
        ({"shock.default_institution": 50}, ["shock.default_institution", "50", "0..19"]),
        ({"shock.fundamental_drop": 1.0}, ["shock.fundamental_drop", "less than 1"]),
        ({"traders.initial_shares": [1, 1, 1]}, ["traders.initial_shares", "summing to 1"]),
        ({"network.topology": "graphml"}, ["network.graphml_path", "GraphML"]),
    ],
)
def test_bad_values_name_field_value_and_rule(overrides, fragments):
    with pytest.raises(ConfigError) as err:
        Config().with_overrides(overrides)
    message = str(err.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_unknown_toml_section(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("[savings]\nallocation = 0.05\n")
    with pytest.raises(ConfigError, match=r"savings.*unknown parameter at the top level"):
        Config.from_toml(path)


def test_malformed_and_missing_toml(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("[savers\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Config.from_toml(path)
    with pytest.raises(ConfigError, match="no such file"):
        Config.from_toml(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("savers.allocation=0.03", ("savers.allocation", 0.03)),
        ("run.steps=100", ("run.steps", 100)),
        ("savers.payday_sync=true", ("savers.payday_sync", True)),
        ("network.topology=erdos_renyi", ("network.topology", "erdos_renyi")),
        ("savers.menu=[1.0]", ("savers.menu", [1.0])),
        ("shock.day=none", ("shock.day", None)),
    ],
)
def test_parse_set_option(item, expected):
    assert parse_set_option(item) == expected


def test_parse_set_option_needs_equals():
    with pytest.raises(ConfigError, match="key=value"):
        parse_set_option("savers.allocation")


def test_outside_market_always_keeps_some_depth():
    with pytest.raises(ConfigError, match=r"market\.market_maker_depth_share"):
        Config().with_overrides({"market.market_maker_depth_share": 1.0})
