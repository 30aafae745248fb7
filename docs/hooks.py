"""mkdocs hooks: the API's source layout, and citations linked to their sources.

- The folders model/ and experiments/ install as crypto401k.model and crypto401k.experiments
  (pyproject's package-dir mapping). mkdocstrings reads source files statically and cannot
  follow that mapping, so the build copies them to build/api-src/crypto401k/ first.
- A parameter's source cites docs/sources.md's entries as `[Label]`; on the site each such
  citation (in the ODD's parameter table, for one) links to its entry.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
API_SRC = ROOT / "build" / "api-src" / "crypto401k"
ENTRY = re.compile(r'<a id="([a-z0-9-]+)"></a>\*\*\[([^\]]+)\]\*\*')
# "[Label]" that is not already a link ("[x](...)", "[x][y]") nor a link definition ("[x]:")
CITATION = re.compile(r"(?<![\]\\])\[([^\]\[]+)\](?![(\[:])")


def on_startup(command: str, dirty: bool) -> None:
    """Runs before any plugin reads its configuration (mkdocstrings resolves its paths then)."""
    shutil.rmtree(API_SRC, ignore_errors=True)
    API_SRC.mkdir(parents=True)
    (API_SRC / "__init__.py").write_text('"""crypto401k: the model and its experiments."""\n')
    for name in ("model", "experiments"):
        shutil.copytree(
            ROOT / name, API_SRC / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Link each `[Label]` citation of a sources.md entry to that entry."""
    if page.file.src_uri == "sources.md":
        return markdown
    text = (Path(config["docs_dir"]) / "sources.md").read_text("utf-8")
    anchors = {label: anchor for anchor, label in ENTRY.findall(text)}
    up = "../" * page.file.src_uri.count("/")

    def link(m: re.Match[str]) -> str:
        anchor = anchors.get(m.group(1))
        return f"[{m.group(1)}]({up}sources.md#{anchor})" if anchor else m.group(0)

    return CITATION.sub(link, markdown)
