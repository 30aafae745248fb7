"""docs/ODD.md stays identical to the code's parameters."""

from pathlib import Path

from crypto401k.model.config import parameter_markdown

ODD = Path(__file__).parent.parent / "docs" / "ODD.md"


def test_odd_parameter_table_matches_the_code():
    text = ODD.read_text(encoding="utf-8")
    start = text.index("<!-- parameters:start -->") + len("<!-- parameters:start -->")
    end = text.index("<!-- parameters:end -->")
    assert text[start:end].strip() == parameter_markdown().strip(), (
        "docs/ODD.md's parameter table is stale: paste `crypto401k params --markdown` "
        "between the parameters markers"
    )


def test_odd_names_every_submodel_file():
    text = ODD.read_text(encoding="utf-8")
    for f in [
        "model/agents/saver.py",
        "model/agents/trader.py",
        "model/agents/institution.py",
        "model/regulator.py",
        "model/market.py",
        "model/policy.py",
    ]:
        assert f in text
