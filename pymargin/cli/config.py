# SPDX-License-Identifier: Apache-2.0
"""The configuration file every command reads: ``pymargin.toml`` in the working folder, else
the user's (``$XDG_CONFIG_HOME/pymargin/config.toml``, by default
``~/.config/pymargin/config.toml``), or the one ``pymargin --config FILE`` names.

Top-level keys are defaults for every command that has the option; a table named after a
command sets that command's own (they win over the top level); the command line wins over
both::

    market = "demo:MIXED"          # --market
    collateral = "BTC=5,USDC=10000"  # --collateral
    model = "deribit-pm"           # --model
    params_version = "2024-06-17"  # --params-version
    output = "json"                # "json" or "table": --json
    allow_unlisted = false         # pymargin --allow-unlisted

    [margin]
    top = 10

    [deribit]                      # the live commands' venue settings (the environment wins)
    client_id = "..."              # DERIBIT_CLIENT_ID
    client_secret = "..."          # DERIBIT_CLIENT_SECRET
    base_url = "https://test.deribit.com/api/v2"   # DERIBIT_BASE_URL
    ws_url = "wss://test.deribit.com/ws/api/v2"    # DERIBIT_WS_URL

An unknown key, or a key no command takes, is an error naming the file and the key: a typo
in a config file must not be silently ignored."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, as a package before Python 3.11
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

from ..exceptions import FileInputError, InvalidInputError

__all__ = ["config_path", "default_map", "read_config", "venue_settings"]

# the [deribit] table: key -> the environment variable the live commands read
_VENUE_ENV = {
    "client_id": "DERIBIT_CLIENT_ID",
    "client_secret": "DERIBIT_CLIENT_SECRET",
    "base_url": "DERIBIT_BASE_URL",
    "ws_url": "DERIBIT_WS_URL",
}


def venue_settings(cfg: dict[str, Any], path: Path) -> dict[str, str]:
    """The ``[deribit]`` table as environment variables (names checked; strings only)."""
    table = cfg.get("deribit", {})
    if not isinstance(table, dict):
        raise FileInputError(str(path), InvalidInputError("must be a table", "deribit"))
    out = {}
    for k, v in table.items():
        if k not in _VENUE_ENV:
            raise FileInputError(str(path), InvalidInputError("no such setting", f"deribit.{k}"))
        if not isinstance(v, str) or not v:
            raise FileInputError(str(path), InvalidInputError("must be a string", f"deribit.{k}"))
        out[_VENUE_ENV[k]] = v
    return out


# config keys that are not an option's parameter name
_ALIASES = {"output": "as_json", "json": "as_json"}
_GLOBAL = {"allow_unlisted"}


def config_path(explicit: Path | None = None) -> Path | None:
    """The configuration file in force: ``explicit``, ``./pymargin.toml``, the user's."""
    if explicit is not None:
        if not explicit.is_file():
            raise FileInputError(str(explicit), "no such file")
        return explicit
    here = Path.cwd() / "pymargin.toml"
    if here.is_file():
        return here
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    user = Path(base) / "pymargin" / "config.toml"
    return user if user.is_file() else None


def read_config(path: Path) -> dict[str, Any]:
    """The file as a mapping (TOML), or a typed error naming it."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as e:
        raise FileInputError(str(path), f"not valid TOML: {e}") from None
    except OSError as e:
        raise FileInputError(str(path), f"cannot read: {e.strerror}") from None


def _value(key: str, v: Any, path: Path) -> tuple[str, Any]:
    name = _ALIASES.get(key, key).replace("-", "_")
    if name == "as_json" and key == "output":
        if v not in ("json", "table"):
            raise FileInputError(str(path), InvalidInputError('"json" or "table"', key))
        return name, v == "json"
    if isinstance(v, (dict, list)) or v is None:
        raise FileInputError(str(path), InvalidInputError("must be a single value", key))
    return name, v


def default_map(group: Any, cfg: dict[str, Any], path: Path) -> dict[str, Any]:
    """Click's ``default_map`` for ``group`` (the app's command group) from the file's
    contents: per command, the options it has. Unknown keys are errors."""
    commands: dict[str, Any] = dict(group.commands)
    params = {n: {p.name for p in c.params if p.name} for n, c in commands.items()}
    taken = set().union(*params.values()) | _GLOBAL
    top: dict[str, Any] = {}
    per: dict[str, dict[str, Any]] = {}
    for key, v in cfg.items():
        if key == "deribit":  # venue settings, not options (venue_settings)
            continue
        if isinstance(v, dict):
            if key not in commands:
                raise FileInputError(str(path), InvalidInputError("no such command", key))
            for k, x in v.items():
                name, val = _value(k, x, path)
                if name not in params[key]:
                    raise FileInputError(
                        str(path),
                        InvalidInputError(f"pymargin {key} has no such option", f"{key}.{k}"),
                    )
                per.setdefault(key, {})[name] = val
            continue
        name, val = _value(key, v, path)
        if name not in taken:
            raise FileInputError(str(path), InvalidInputError("no command takes this option", key))
        top[name] = val
    out: dict[str, Any] = {
        n: {**{k: v for k, v in top.items() if k in params[n]}, **per.get(n, {})} for n in commands
    }
    out.update({k: v for k, v in top.items() if k in _GLOBAL})
    return out
