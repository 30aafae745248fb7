"""`Config`, the complete scenario: its sections, their cross-checks, and its construction
from a dict, a TOML file and overrides."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any

from crypto401k.model.config.agencies import (
    AgenciesConfig,
)
from crypto401k.model.config.agents import InstitutionConfig, SaverConfig, TraderConfig
from crypto401k.model.config.base import Section
from crypto401k.model.config.errors import (
    ConfigError,
    _describe,
    _field_error,
)
from crypto401k.model.config.fiscal import FiscalConfig
from crypto401k.model.config.inputs import _drop_none, _set_dotted
from crypto401k.model.config.market import (
    AssetConfig,
    ExchangeConfig,
    MarketConfig,
    OutsideConfig,
    ShockConfig,
    StablecoinConfig,
    _is_correlation,
)
from crypto401k.model.config.network import NetworkConfig
from crypto401k.model.config.regulator import RegulatorConfig
from crypto401k.model.config.run import RunConfig
from pydantic import (
    Field,
    ValidationError,
    model_validator,
)


class Config(Section):
    """The complete scenario. The defaults are the built-in default scenario."""

    assets: list[AssetConfig] = Field(default_factory=lambda: [AssetConfig()])
    market: MarketConfig = Field(default_factory=MarketConfig)
    savers: SaverConfig = Field(default_factory=SaverConfig)
    traders: TraderConfig = Field(default_factory=TraderConfig)
    institutions: InstitutionConfig = Field(default_factory=InstitutionConfig)
    regulator: RegulatorConfig = Field(default_factory=RegulatorConfig)
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    shock: ShockConfig = Field(default_factory=ShockConfig)
    stablecoin: StablecoinConfig = Field(default_factory=StablecoinConfig)
    exchanges: ExchangeConfig = Field(default_factory=ExchangeConfig)
    agencies: AgenciesConfig = Field(default_factory=AgenciesConfig)
    fiscal: FiscalConfig = Field(default_factory=FiscalConfig)
    outside: OutsideConfig = Field(default_factory=OutsideConfig)
    run: RunConfig = Field(default_factory=RunConfig)

    @model_validator(mode="after")
    def _cross_checks(self) -> Config:
        n_assets = len(self.assets)
        if n_assets < 1:
            raise _field_error("assets", [], "at least one asset")
        names = [a.name for a in self.assets]
        if len(set(names)) != n_assets:
            raise _field_error("assets.name", names, "distinct asset names")
        corr = self.market.correlation
        if len(corr) != n_assets or any(len(row) != n_assets for row in corr):
            raise _field_error("market.correlation", corr, f"a {n_assets}x{n_assets} matrix")
        if not _is_correlation(corr):
            raise _field_error(
                "market.correlation",
                corr,
                "a symmetric positive semi-definite matrix with ones on the diagonal",
            )
        if not any(a.kind == "coin" for a in self.assets):
            raise _field_error(
                "assets.kind", [a.kind for a in self.assets], "a list with at least one 'coin'"
            )
        for k, a in enumerate(self.assets):
            if a.kind == "stablecoin" and a.initial_price_usd != 1.0:
                raise _field_error(
                    f"assets.{k}.initial_price_usd", a.initial_price_usd, "1.0 for a stablecoin"
                )
        a = self.shock.asset
        coins = [n for n, asset in zip(names, self.assets, strict=True) if asset.kind == "coin"]
        if a is not None and a not in coins:
            raise _field_error("shock.asset", a, f"None or a coin's name ({', '.join(coins)})")
        x = self.exchanges
        if x.fail_day is not None and x.fail_exchange >= x.n_exchanges:
            raise _field_error(
                "exchanges.fail_exchange",
                x.fail_exchange,
                f"an index in 0..{x.n_exchanges - 1} (there are {x.n_exchanges} exchanges)"
                if x.n_exchanges
                else "unused: there are no exchanges (set exchanges.n_exchanges)",
            )
        if sum(a.kind == "stablecoin" for a in self.assets) > 1:
            raise _field_error(
                "assets.kind",
                [a.kind for a in self.assets],
                "at most one asset of kind 'stablecoin' (one issuer is modelled)",
            )
        menu = self.savers.menu
        if isinstance(menu, dict):
            unknown = [k for k in menu if k not in names]
            if unknown:
                raise _field_error(
                    "savers.menu",
                    menu,
                    f"weights of known assets only (unknown: {', '.join(unknown)}; "
                    f"allowed: {', '.join(names)})",
                )
        weights = self.menu_weights
        if (
            len(weights) != n_assets
            or any(not math.isfinite(w) or w < 0 for w in weights)
            or abs(sum(weights) - 1) > 1e-9
        ):
            raise _field_error(
                "savers.menu", menu, f"{n_assets} non-negative weight(s) summing to 1"
            )
        shares = self.traders.initial_shares
        if len(shares) != 3 or any(s < 0 for s in shares) or abs(sum(shares) - 1) > 1e-9:
            raise _field_error(
                "traders.initial_shares",
                shares,
                "3 non-negative shares (fundamentalist, chartist, noise) summing to 1",
            )
        if self.institutions.leverage_max < self.institutions.leverage_target:
            raise _field_error(
                "institutions.leverage_max",
                self.institutions.leverage_max,
                f"a value >= institutions.leverage_target ({self.institutions.leverage_target})",
            )
        if self.savers.retirement_age <= self.savers.entry_age:
            raise _field_error(
                "savers.retirement_age",
                self.savers.retirement_age,
                f"an age above savers.entry_age ({self.savers.entry_age})",
            )
        if self.network.topology == "graphml" and not self.network.graphml_path:
            raise _field_error(
                "network.graphml_path", None, "a GraphML file path when topology = 'graphml'"
            )
        k = self.shock.default_institution
        if k is not None and k >= self.n_institutions:
            raise _field_error(
                "shock.default_institution",
                k,
                f"an index in 0..{self.n_institutions - 1} (there are {self.n_institutions} "
                "institutions)"
                if self.n_institutions
                else "None (there are no institutions)",
            )
        return self

    @property
    def n_assets(self) -> int:
        return len(self.assets)

    @property
    def menu_weights(self) -> list[float]:
        """The savers' menu in asset order (fraction of the crypto allocation per asset)."""
        menu = self.savers.menu
        if isinstance(menu, dict):
            return [float(menu.get(a.name, 0.0)) for a in self.assets]
        return [float(w) for w in menu]

    @property
    def coin_cap_share(self) -> list[float]:
        """Each asset's share of the coins' market cap (0 for a stablecoin): how traders and
        institutions split a position over assets."""
        caps = [a.market_cap_usd if a.kind == "coin" else 0.0 for a in self.assets]
        return [c / sum(caps) for c in caps]

    @property
    def n_institutions(self) -> int:
        i = self.institutions
        return i.n_funds + i.n_lenders + i.n_market_makers

    # ---- construction from user input ------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        """Validate a nested dict (e.g. parsed TOML); raise `ConfigError` on the first problem."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(_describe(exc)) from None

    @classmethod
    def from_toml(cls, path: str | Path) -> Config:
        """Load a scenario from a TOML file (sections as in `Config`)."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"config file {str(path)!r}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {str(path)!r}: cannot be read ({exc})") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {str(path)!r}: not valid TOML ({exc})") from None
        return cls.from_dict(data)

    def with_overrides(self, overrides: dict[str, Any]) -> Config:
        """A copy with dotted-key overrides applied, e.g. {'savers.allocation': 0.03}."""
        data = self.model_dump()
        for key, value in overrides.items():
            _set_dotted(data, key, value)
        return Config.from_dict(data)

    def to_toml_dict(self) -> dict[str, Any]:
        """A TOML-serialisable dict (None values dropped: TOML has no null)."""
        return _drop_none(self.model_dump())
