# SPDX-License-Identifier: Apache-2.0
"""Shared by every command: the Typer app, the option types, the model and estimator choices,
reading positions and markets, JSON output, and the error handling that ends a command with
exit code 2 and one line naming the file, field and row."""

from __future__ import annotations

import enum
import json
import math
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..accounts.cascade import ImpactKind
from ..analytics.var import ShockDistribution
from ..exceptions import PymarginError
from ..models.registry import MarginModel
from ..strategy.portfolio_theory import CovarianceEstimator

E = TypeVar("E", bound=enum.Enum)

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="pymargin: margin, Greeks, pre-trade checks, risk, venue-wide margin and hedging "
    "for crypto derivatives.",
)


err = Console(stderr=True)  # messages and progress; tables go to console_out()

# Options of the whole command line (before the command): whether positions the market does
# not list may be valued from the smile, and which of the running command's positions were.
ALLOW_UNLISTED: list[bool] = [False]
UNLISTED: list[str] = []
JSON_WRITTEN: list[bool] = [False]  # the running command printed JSON (not tables)


def _version(value: bool) -> None:
    if value:
        from .. import __version__, simd_level

        print(f"pymargin {__version__} (kernels: {simd_level()})")
        raise typer.Exit()


@app.callback()
def _options(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="configuration file (default: ./pymargin.toml, else "
            "~/.config/pymargin/config.toml): default market, collateral, model, parameter "
            "version, output",
        ),
    ] = None,
    allow_unlisted: Annotated[
        bool,
        typer.Option(
            "--allow-unlisted",
            help="value positions the market does not list from its smile (refused otherwise: "
            "an unknown name is usually a typo)",
        ),
    ] = False,
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="print the version"),
    ] = False,
) -> None:
    """pymargin: margin, Greeks, pre-trade checks, risk, venue-wide margin and hedging for
    crypto derivatives."""
    from .config import config_path, default_map, read_config, venue_settings

    try:
        path = config_path(config)
        if path is not None:
            cfg = read_config(path)
            defaults = default_map(ctx.command, cfg, path)
            for k, v in venue_settings(cfg, path).items():
                os.environ.setdefault(k, v)  # the environment wins over the file
            if "allow_unlisted" in defaults and not allow_unlisted:
                allow_unlisted = bool(defaults.pop("allow_unlisted"))
            defaults.pop("allow_unlisted", None)
            ctx.default_map = defaults
    except PymarginError as e:
        fail(e)
    ALLOW_UNLISTED[0] = allow_unlisted


class WordSafeConsole(Console):
    """A console whose tables never cut a word: before a table is printed, each column's
    minimum width becomes its longest word, and a table wider than the console is printed
    whole (not cropped): a narrower terminal wraps the line instead."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        tables = [obj for obj in objects if isinstance(obj, Table)]
        for t in tables:
            keep_words_whole(t)
        if tables:
            kwargs.setdefault("crop", False)
        super().print(*objects, **kwargs)


def keep_words_whole(table: Table) -> None:
    """Sets each column's minimum width to the longest word in its header and cells."""
    for col in table.columns:
        texts = [str(col.header), *(str(c) for c in col.cells)]
        longest = max(
            (len(w) for t in texts for w in _plain(t).split()),
            default=0,
        )
        col.min_width = max(col.min_width or 0, longest)


def _plain(text: str) -> str:
    """A cell's text without its markup (``[green]accept[/green]`` is ``accept``)."""
    try:
        return Text.from_markup(text).plain
    except Exception:  # not valid markup: printed as it is
        return text


def console_out() -> Console:
    """Standard output, at least 120 columns (the tables need the width), words kept whole."""
    return WordSafeConsole(width=max(Console().width, 120))


def _choices(name: str, library: type[enum.Enum]) -> type[enum.Enum]:
    """The command line's choices for a library enum: one per member, its value spelled with
    hyphens (``MarginModel.DERIBIT_PM`` is ``--model deribit-pm``). Written from the library's
    enum, so a member added there is a choice here."""
    return enum.Enum(  # type: ignore[return-value]
        name, {m.name.lower(): str(m.value).replace("_", "-") for m in library}, type=str
    )


def library_member(choice: enum.Enum, library: type[E]) -> E:
    """The library enum member a command-line choice stands for."""
    return library[choice.name.upper()]


if TYPE_CHECKING:  # the choices are built at run time; to the type checker they are enums
    Model: TypeAlias = enum.Enum
    Estimator: TypeAlias = enum.Enum
    Dist: TypeAlias = enum.Enum
    Impact: TypeAlias = enum.Enum
else:
    Model = _choices("Model", MarginModel)
    Estimator = _choices("Estimator", CovarianceEstimator)
    Dist = _choices("Dist", ShockDistribution)
    Impact = _choices("Impact", ImpactKind)
DEFAULT_MODEL = Model.__members__["deribit_pm"]
DEFAULT_ESTIMATOR = Estimator.__members__["sample"]
DEFAULT_DIST = Dist.__members__["normal"]
DEFAULT_IMPACT = Impact.__members__["square_root"]


PositionsArg = Annotated[
    Path, typer.Argument(help="positions: CSV, JSON, Deribit get_positions or ccxt positions")
]


MarketOpt = Annotated[
    str,
    typer.Option(
        "--market",
        "-m",
        help="demo:BTC, demo:ETH, demo:MIXED (both, one time), a chain CSV or Deribit book "
        "summary JSON",
    ),
]


ParamsVersionOpt = Annotated[
    str | None,
    typer.Option(
        help="a shipped parameter version (its date) for every part of the model, instead of "
        "the version in force at the market's valuation time"
    ),
]


CollateralOpt = Annotated[
    str | None,
    typer.Option(help="BTC=1.5,USDC=2000 or a Deribit get_account_summary JSON file"),
]


JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of tables")]


TimeOpt = Annotated[
    str | None, typer.Option("--time", help="valuation time (ISO, UTC) for a chain CSV")
]


def fail(e: Exception) -> None:
    from rich.markup import escape

    # one line, whatever the input put in the message (newlines, rich markup)
    text = str(e).replace("\r", "\\r").replace("\n", "\\n")
    err.print(
        f"[bold red]pymargin: error:[/bold red] {escape(text)}", highlight=False, soft_wrap=True
    )
    raise typer.Exit(2)


def parse_time(time: str | None) -> datetime | None:
    """``--time``: an ISO time, UTC when it has no zone."""
    when = None
    if time:
        try:
            when = datetime.fromisoformat(time)
        except ValueError:
            fail(ValueError(f"--time: not an ISO time: {time!r}"))
        assert when is not None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
    return when


SOURCE: list[str] = []  # the positions file of the running command (names its errors)


def read_inputs(positions: Path, market: str, time: str | None) -> tuple[Any, Any]:
    """Positions and market, every position checked against the market (expired, no marks)
    with errors naming the positions file and the instrument's row in it."""
    from .inputs import check_positions, read_market, read_positions_with_rows

    pf, first = read_positions_with_rows(positions)
    SOURCE[:] = [str(positions)]
    mkt = read_market(market, parse_time(time))
    UNLISTED[:] = check_positions(pf, mkt, positions, first, allow_unlisted=ALLOW_UNLISTED[0])
    return pf, mkt


def check_writable(path: Path | None, field: str) -> None:
    """An output path whose folder exists (checked before any work)."""
    from ..exceptions import InvalidInputError

    if path is None:
        return
    folder = Path(path).expanduser().parent
    if not folder.is_dir():
        raise InvalidInputError(f"{path}: no such folder {str(folder) or '.'}", field)
    if Path(path).is_dir():
        raise InvalidInputError(f"{path} is a folder, not a file", field)


def print_json(obj: Any) -> None:
    """Strict JSON (no NaN / Infinity tokens): a non-finite number is written as null and
    listed, with what it was, under ``"non_finite"`` (JSON pointer -> "NaN", "Infinity" or
    "-Infinity") of the enclosing top-level object, or of each object of a top-level list."""
    if isinstance(obj, list):
        out: Any = [strict_json(x) for x in obj]
    else:
        out = strict_json(obj)
    # options valued from the smile rather than their own mark: said in every result
    for o in out if isinstance(out, list) else [out]:
        if UNLISTED and isinstance(o, dict):
            o.setdefault("unlisted_from_smile", list(UNLISTED))
    JSON_WRITTEN[0] = True
    sys.stdout.write(json.dumps(out, indent=2, allow_nan=False) + "\n")


def strict_json(obj: Any) -> Any:
    flags: dict[str, str] = {}
    clean = plain(obj, "", flags)
    if flags:
        if isinstance(clean, dict):
            clean["non_finite"] = flags
        else:
            clean = {"value": clean, "non_finite": flags}
    return clean


def plain(o: Any, where: str, flags: dict[str, str]) -> Any:
    """``o`` as plain JSON types, non-finite floats as None (recorded in ``flags``)."""
    import dataclasses
    import math

    import numpy as np

    if isinstance(o, np.ndarray):
        o = o.tolist()
    elif isinstance(o, (np.floating, np.integer, np.bool_)):
        o = o.item()
    if isinstance(o, enum.Enum):
        o = o.value
    if o is None or isinstance(o, (bool, str)):
        return o
    if isinstance(o, int):
        return o
    if isinstance(o, float):
        if math.isfinite(o):
            return o
        flags[where or "/"] = "NaN" if o != o else ("Infinity" if o > 0 else "-Infinity")
        return None
    if isinstance(o, dict):
        out = {}
        for k, v in o.items():
            key = k.value if isinstance(k, enum.Enum) else k
            key = key if isinstance(key, str) else str(key)
            esc = key.replace("~", "~0").replace("/", "~1")
            out[key] = plain(v, f"{where}/{esc}", flags)
        return out
    if isinstance(o, (list, tuple)):
        return [plain(v, f"{where}/{k}", flags) for k, v in enumerate(o)]
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return plain(o.__dict__, where, flags)
    return str(o)


def run(fn: Any) -> None:
    from ..exceptions import FileInputError, InvalidInputError

    SOURCE.clear()
    UNLISTED.clear()
    JSON_WRITTEN[0] = False
    try:
        fn()
        if UNLISTED and not JSON_WRITTEN[0]:
            Console(width=max(Console().width, 120)).print(
                f"note: not listed in the market, valued from its smile: {', '.join(UNLISTED)}",
                highlight=False,
                markup=False,
            )
    except FileInputError as e:
        fail(e)
    except PymarginError as e:
        # "no positions" and the like: name the positions file
        if SOURCE and e.field in ("positions", "portfolio"):
            fail(FileInputError(SOURCE[0], e))
        fail(e)
    except OSError as e:
        fail(e)
    except RecursionError:
        fail(InvalidInputError("input nested too deeply", "input"))
    except MemoryError:
        fail(InvalidInputError("input too large for memory", "input"))


class VarMethod(str, enum.Enum):
    """The VaR command's methods: the library's VaRMethod with filtered historical simulation
    split by its VolFilter (one choice each), as a user picks them."""

    historical = "historical"
    filtered_ewma = "filtered-ewma"
    filtered_garch = "filtered-garch"
    delta_normal = "delta-normal"
    delta_gamma = "delta-gamma"
    monte_carlo = "monte-carlo"


def chosen_model(model: Model, grid_file: Path | None, span_file: Path | None = None) -> Any:
    """The MarginModel of --model, SCENARIO_GRID for --grid-file or SPAN16 for --span-file
    (one of the three)."""
    from ..exceptions import InvalidInputError

    chosen = library_member(model, MarginModel)
    given = [f for f, v in (("--grid-file", grid_file), ("--span-file", span_file)) if v]
    if len(given) > 1:
        raise InvalidInputError("give one of --grid-file and --span-file", given[-1])
    if grid_file is not None:
        if chosen not in (MarginModel.DERIBIT_PM, MarginModel.SCENARIO_GRID):
            raise InvalidInputError("--grid-file goes with --model scenario-grid", "--grid-file")
        return MarginModel.SCENARIO_GRID
    if span_file is not None:
        if chosen not in (MarginModel.DERIBIT_PM, MarginModel.SPAN16):
            raise InvalidInputError("--span-file goes with --model span16", "--span-file")
        return MarginModel.SPAN16
    if chosen is MarginModel.SCENARIO_GRID:
        raise InvalidInputError("--model scenario-grid needs --grid-file", "--grid-file")
    return chosen


def model_params(
    chosen: Any, grid_file: Path | None, span_file: Path | None, version: str | None = None
) -> Any:
    """The parameters the file options give, or the shipped ``version`` (--params-version) of
    a model that has shipped versions; None for the version in force."""
    if version is not None:
        from ..exceptions import InvalidInputError
        from ..models.deribit_pm import DeribitPMParams
        from ..models.deribit_standard import DeribitStandardParams
        from ..models.params import load_params

        if grid_file is not None or span_file is not None:
            raise InvalidInputError("a parameter file has no versions", "--params-version")
        if chosen in (MarginModel.DERIBIT_PM, MarginModel.DERIBIT_XPM):
            return DeribitPMParams.load(version)
        if chosen is MarginModel.DERIBIT_STANDARD:
            return DeribitStandardParams.load(version)
        if chosen is MarginModel.PARADEX_PM:
            load_params("paradex_pm", version)  # the typed error naming the versions
            return version
        if chosen is MarginModel.DERIVE_PM:
            from ..models.derive_pm import DerivePMParams

            return DerivePMParams.load(version)
        raise InvalidInputError(
            f"{chosen.value} has no shipped parameter versions", "--params-version"
        )
    if grid_file is not None:
        return str(grid_file)
    if span_file is not None:
        from ..models.span import SpanParams

        return SpanParams.from_file(span_file)
    if chosen is MarginModel.SPAN16:  # the bundled illustrative set, labelled as such
        from ..models.span import SpanParams

        return SpanParams.example()
    return None


ModelOpt = Annotated[
    Model,
    typer.Option(
        help="margin model (scenario-grid needs --grid-file; span16 takes --span-file, else "
        "the bundled illustrative parameters)"
    ),
]
GridFileOpt = Annotated[
    Path | None,
    typer.Option("--grid-file", help="a grid venue's parameter file (instead of --model)"),
]
SpanFileOpt = Annotated[
    Path | None,
    typer.Option("--span-file", help="SPAN parameters (JSON, SpanParams): margin under SPAN-16"),
]


VenuePositions = Annotated[
    Path, typer.Argument(help="venue positions: CSV or Parquet with account, instrument, size")
]


VenueCollateral = Annotated[
    Path, typer.Argument(help="collateral: CSV or Parquet with account, amount")
]


def parse_floats(spec: str, field: str) -> list[float]:
    """``1,2.5,4``: finite numbers, none given twice."""
    from ..exceptions import InvalidInputError

    out: list[float] = []
    for row, part in enumerate(spec.split(",")):
        try:
            v = float(part)
        except ValueError:
            raise InvalidInputError(f"not a number: {part!r}", field, row) from None
        if not math.isfinite(v):
            raise InvalidInputError(f"must be finite, got {part!r}", field, row)
        if v in out:
            raise InvalidInputError(f"{part.strip()} given twice", field, row)
        out.append(v)
    return out


def parse_names(spec: str, field: str) -> list[str]:
    """``A,B,C``: instrument names, none given twice (empty entries skipped)."""
    from ..exceptions import InvalidInputError

    out: list[str] = []
    for row, part in enumerate(spec.split(",")):
        name = part.strip()
        if not name:
            continue
        if name in out:
            raise InvalidInputError(f"{name} given twice", field, row)
        out.append(name)
    return out


def underlying_of(pf: Any, mkt: Any) -> str:
    from ..risk.pnl import portfolio_underlyings

    return portfolio_underlyings(pf, mkt)[0]
