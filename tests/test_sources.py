"""Every parameter's source can be followed from the repository alone.

A source cites docs/sources.md's entries by their labels in square brackets
(`[Gabaix & Koijen 2021]`), names only files that are in the repository, and carries no
bare author-year citation that a reader could not look up.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from crypto401k.model.config import parameter_table

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "docs" / "sources.md"
ENTRY = re.compile(r'<a id="([a-z0-9-]+)"></a>\*\*\[([^\]]+)\]\*\*')
CITE = re.compile(r"\[([^\]]+)\]")
# a path-like word ending in a file extension: "docs/calibration.md", "DESIGN.md"
FILE = re.compile(r"[\w./-]+\.(?:md|toml|py|csv|json|graphml|ipynb|txt|ya?ml|cff|parquet)\b")
# citations that bypass the brackets: "Lux & Marchesi (1999)", "Smith et al.", "(2012)"
BARE = re.compile(r"[A-Z][a-z]+ & [A-Z][a-z]+|\bet al\b|\((?:19|20)\d\d\)")


def slug(label: str) -> str:
    """The anchor of a label: lower case, every run of other characters one hyphen."""
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def entries() -> dict[str, str]:
    """docs/sources.md's entries: label -> anchor."""
    return {label: anchor for anchor, label in ENTRY.findall(SOURCES.read_text("utf-8"))}


def sources() -> list[tuple[str, str]]:
    return [(row["parameter"], row["source"]) for row in parameter_table()]


SRC = sources()
IDS = [p for p, _ in SRC]


def test_every_entry_has_the_anchor_of_its_label_and_appears_once():
    text = SOURCES.read_text("utf-8")
    found = ENTRY.findall(text)
    assert len(found) >= 30
    assert all(anchor == slug(label) for anchor, label in found), found
    assert len({a for a, _ in found}) == len(found)


def test_slug_matches_the_documented_rule():
    assert slug("Greenwood, Landier & Thesmar 2015") == "greenwood-landier-thesmar-2015"
    assert slug("IRS Rev. Proc. 2024-40") == "irs-rev-proc-2024-40"


@pytest.mark.parametrize(("parameter", "source"), SRC, ids=IDS)
def test_a_source_cites_only_entries_of_docs_sources(parameter: str, source: str):
    known = entries()
    missing = [c for c in CITE.findall(source) if c not in known]
    assert not missing, f"{parameter}: {missing} not in docs/sources.md"


@pytest.mark.parametrize(("parameter", "source"), SRC, ids=IDS)
def test_a_source_names_only_files_in_the_repository(parameter: str, source: str):
    absent = [f for f in FILE.findall(source) if not (ROOT / f).is_file()]
    assert not absent, f"{parameter} names files not in the repository: {absent}"


@pytest.mark.parametrize(("parameter", "source"), SRC, ids=IDS)
def test_a_source_has_no_bare_citation(parameter: str, source: str):
    # "[A] [B]" would read as a Markdown reference link: write "[A]; [B]"
    assert "] [" not in source, f"{parameter}: separate citations with '; ': {source}"
    outside = CITE.sub("", source)  # what is left outside the brackets
    assert not BARE.search(outside), (
        f"{parameter}: cite the work as [Label Year], an entry of docs/sources.md: {source}"
    )


def test_the_checks_catch_what_they_are_for():
    # the patterns above would flag the sources this test was written to remove
    assert FILE.findall("DESIGN.md: e.g. 5% -> 1% (seed-world-facts.md section 9)") == [
        "DESIGN.md",
        "seed-world-facts.md",
    ]
    assert BARE.search("Franke & Westerhoff (2012)")
    assert not BARE.search(CITE.sub("", "[Franke & Westerhoff 2012] estimate alpha_0 < 0"))
    assert "Nobody 1900" not in entries()


def test_every_entry_is_cited_or_listed_as_further_literature():
    # an entry with an anchor exists to be cited by a parameter; the uncited literature the
    # documentation names is listed without anchors at the end of the page
    cited = {c for _, s in SRC for c in CITE.findall(s)}
    assert set(entries()) <= cited, sorted(set(entries()) - cited)
