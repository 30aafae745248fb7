"""Built-in scenarios, shipped as TOML files beside this module (copy one to start your own).

- `btc_only`, the default (of `Config()`, the model, `crypto401k run` and the experiments):
  Bitcoin alone, the calibrated baseline of `validate` and of the five core experiments; it
  is exactly `Config()`.
- `four_assets`: BTC, ETH, a DeFi-token basket and a dollar stablecoin (the browser app opens
  on it).
- `agencies`: the executive-order scenario: the four-asset market with the DOL, SEC, IRS and
  CFTC writing the rules, plan inflows (3%) waiting for the DOL's safe harbour.
- `upper_bound`: Bitcoin alone with every plan offering crypto, every participant opting
  in, all DC contributions and no concentration cap: the model's world before issue 17.
"""

from __future__ import annotations

from pathlib import Path

from crypto401k.model.config import Config, ConfigError

HERE = Path(__file__).parent
DEFAULT = "btc_only"  # the one default: exactly `Config()` (a test checks it)


def names() -> list[str]:
    """The built-in scenarios' names."""
    return sorted(p.stem for p in HERE.glob("*.toml"))


def path(name: str) -> Path:
    """The TOML file of a built-in scenario; ConfigError naming the allowed ones."""
    if name not in names():
        raise ConfigError(f"scenario = {name!r}: must be one of {', '.join(names())}")
    return HERE / f"{name}.toml"


def file(name_or_path: str | Path) -> Path:
    """A built-in scenario's file, or the scenario file a path names (one ending in .toml,
    whose reading reports a missing file, or an existing file); ConfigError naming the
    built-in ones otherwise."""
    text = str(name_or_path)
    if text.endswith(".toml") or (text.strip() and Path(text).is_file()):
        return Path(text)
    if text not in names():
        raise ConfigError(
            f"scenario = {text!r}: must be one of {', '.join(names())} or a scenario .toml file"
        )
    return HERE / f"{text}.toml"


def load(name_or_path: str | Path = DEFAULT) -> Config:
    """A scenario as a validated `Config`: a built-in one by name, or a TOML file by path
    (the one loader of the CLI, the experiments and the app)."""
    return Config.from_toml(file(name_or_path))
