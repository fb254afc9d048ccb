"""The ``pymargin`` command line (typer + rich): margin, Greeks, what-if checks, model
comparison and an HTML report for a portfolio; VaR, stress and liquidation; venue-wide batch
margin and the liquidation cascade; hedging, margin optimisation, protection and cross-venue
margin; and the bundled demo.

Every command reads positions and a market (see :mod:`pymargin.cli.inputs` for the formats),
prints rich tables, or JSON with ``--json``. Bad input ends the command with exit code 2 and
one line naming the file, the field and the row.
"""

from __future__ import annotations

import enum
import json
import math
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ..exceptions import PymarginError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="pymargin: margin, Greeks, pre-trade checks, risk, venue-wide margin and hedging "
    "for crypto derivatives.",
)
err = Console(stderr=True)


def _out() -> Console:
    """Standard output, at least 120 columns (the tables need the width)."""
    return Console(width=max(Console().width, 120))


class Estimator(str, enum.Enum):
    sample = "sample"
    ewma = "ewma"
    ledoit_wolf = "ledoit_wolf"


class Model(str, enum.Enum):
    deribit_pm = "deribit-pm"
    deribit_xpm = "deribit-xpm"
    deribit_standard = "deribit-standard"
    paradex_pm = "paradex-pm"
    finra_pm = "finra-pm"
    delta_margin = "delta-margin"


PositionsArg = Annotated[
    Path, typer.Argument(help="positions: CSV, JSON, Deribit get_positions or ccxt positions")
]
MarketOpt = Annotated[
    str,
    typer.Option(
        "--market", "-m", help="demo:BTC, demo:ETH, a chain CSV or Deribit book summary JSON"
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


def _fail(e: Exception) -> None:
    from rich.markup import escape

    # one line, whatever the input put in the message (newlines, rich markup)
    text = str(e).replace("\r", "\\r").replace("\n", "\\n")
    err.print(
        f"[bold red]pymargin: error:[/bold red] {escape(text)}", highlight=False, soft_wrap=True
    )
    raise typer.Exit(2)


def _when(time: str | None) -> datetime | None:
    """``--time``: an ISO time, UTC when it has no zone."""
    when = None
    if time:
        try:
            when = datetime.fromisoformat(time)
        except ValueError:
            _fail(ValueError(f"--time: not an ISO time: {time!r}"))
        assert when is not None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
    return when


_SOURCE: list[str] = []  # the positions file of the running command (names its errors)


def _inputs(positions: Path, market: str, time: str | None) -> tuple[Any, Any]:
    """Positions and market, every position checked against the market (expired, no marks)
    with errors naming the positions file and the instrument's row in it."""
    from .inputs import check_positions, read_market, read_positions_with_rows

    pf, first = read_positions_with_rows(positions)
    _SOURCE[:] = [str(positions)]
    mkt = read_market(market, _when(time))
    check_positions(pf, mkt, positions, first)
    return pf, mkt


def _writable(path: Path | None, field: str) -> None:
    """An output path whose folder exists (checked before any work)."""
    from ..exceptions import InvalidInputError

    if path is None:
        return
    folder = Path(path).expanduser().parent
    if not folder.is_dir():
        raise InvalidInputError(f"{path}: no such folder {str(folder) or '.'}", field)
    if Path(path).is_dir():
        raise InvalidInputError(f"{path} is a folder, not a file", field)


def _print_json(obj: Any) -> None:
    """Strict JSON (no NaN / Infinity tokens): a non-finite number is written as null and
    listed, with what it was, under ``"non_finite"`` (JSON pointer -> "NaN", "Infinity" or
    "-Infinity") of the enclosing top-level object, or of each object of a top-level list."""
    if isinstance(obj, list):
        out: Any = [_strict(x) for x in obj]
    else:
        out = _strict(obj)
    sys.stdout.write(json.dumps(out, indent=2, allow_nan=False) + "\n")


def _strict(obj: Any) -> Any:
    flags: dict[str, str] = {}
    clean = _plain(obj, "", flags)
    if flags:
        if isinstance(clean, dict):
            clean["non_finite"] = flags
        else:
            clean = {"value": clean, "non_finite": flags}
    return clean


def _plain(o: Any, where: str, flags: dict[str, str]) -> Any:
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
            out[key] = _plain(v, f"{where}/{esc}", flags)
        return out
    if isinstance(o, (list, tuple)):
        return [_plain(v, f"{where}/{k}", flags) for k, v in enumerate(o)]
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return _plain(o.__dict__, where, flags)
    return str(o)


def _run(fn: Any) -> None:
    from ..exceptions import FileInputError, InvalidInputError

    _SOURCE.clear()
    try:
        fn()
    except FileInputError as e:
        _fail(e)
    except PymarginError as e:
        # "no positions" and the like: name the positions file
        if _SOURCE and e.field in ("positions", "portfolio"):
            _fail(FileInputError(_SOURCE[0], e))
        _fail(e)
    except OSError as e:
        _fail(e)
    except RecursionError:
        _fail(InvalidInputError("input nested too deeply", "input"))
    except MemoryError:
        _fail(InvalidInputError("input too large for memory", "input"))


@app.command()
def demo(as_json: JsonOpt = False) -> None:
    """The main job on the bundled real Deribit chains: seven portfolios margined under each
    model, with the breakdown, the worst scenarios and the Greeks."""
    from .demo import run_demo

    if as_json:
        _print_json(run_demo(console=False))
    else:
        run_demo()


@app.command()
def version() -> None:
    """The version and the active SIMD level."""
    from .. import __version__, simd_level

    print(f"pymargin {__version__} (kernels: {simd_level()})")


@app.command()
def margin(
    positions: PositionsArg,
    market: MarketOpt,
    model: Annotated[Model, typer.Option(help="margin model")] = Model.deribit_pm,
    currency: Annotated[str | None, typer.Option(help="settlement currency (S:PM, S:SM)")] = None,
    collateral: CollateralOpt = None,
    params: Annotated[
        str | None, typer.Option(help="Deribit PM parameters: model file or pme/simulate JSON")
    ] = None,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
    grid_file: Annotated[
        Path | None,
        typer.Option("--grid-file", help="a grid venue's parameter file (instead of --model)"),
    ] = None,
    span_file: SpanFileOpt = None,
) -> None:
    """Initial and maintenance margin of the positions under one model, with the breakdown."""

    def go() -> None:
        from ..models.registry import MarginModel
        from ..models.registry import margin as compute
        from .inputs import read_collateral, read_params

        pf, mkt = _inputs(positions, market, time)
        chosen = _chosen_model(model, grid_file, span_file)
        from_files = _model_params(chosen, grid_file, span_file)
        coll = read_collateral(collateral)  # checked even where the model does not use it
        res = compute(
            pf,
            mkt,
            chosen,
            params=from_files if from_files is not None else read_params(params),
            currency=currency,
            collateral=coll if chosen is MarginModel.DERIBIT_XPM else None,
        )
        out = {
            "model": chosen.value,
            "currency": res.currency,
            "initial_margin": res.initial_margin,
            "maintenance_margin": res.maintenance_margin,
            "components": res.components,
            "worst_scenario": res.worst_scenario,
        }
        if as_json:
            out["scenarios"] = dict(zip(res.scenario_labels, res.scenario_pnl.tolist()))
            _print_json(out)
            return
        con = _out()
        t = Table(title=f"{chosen.value} margin ({res.currency.upper()})", title_justify="left")
        t.add_column("")
        t.add_column("value", justify="right")
        t.add_row("initial margin", f"{res.initial_margin:,.6g}")
        t.add_row("maintenance margin", f"{res.maintenance_margin:,.6g}")
        for k, v in res.components.items():
            t.add_row(f"  {k}", f"{v:,.6g}")
        t.add_row("worst scenario", res.worst_scenario)
        con.print(t)
        con.print(res.explain(), highlight=False)

    _run(go)


@app.command()
def greeks(
    positions: PositionsArg,
    market: MarketOpt,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Portfolio Greeks by underlying and expiry (USD; delta in coins)."""

    def go() -> None:
        from ..risk.greeks import portfolio_greeks

        pf, mkt = _inputs(positions, market, time)
        g = portfolio_greeks(pf, mkt)
        if as_json:
            _print_json(
                {
                    "by_underlying": g.by_underlying,
                    "by_expiry": {f"{u} {e}": v for (u, e), v in g.by_expiry.items()},
                }
            )
            return
        t = Table(title="Greeks (USD; delta in coins)", title_justify="left")
        for col in ("underlying", "expiry", "delta", "delta USD", "gamma 1%", "vega/pt", "theta/d"):
            t.add_column(col, justify="left" if col in ("underlying", "expiry") else "right")

        def row(u: str, e: str, v: dict[str, float]) -> None:
            t.add_row(
                u,
                e,
                f"{v['delta']:+,.3f}",
                f"{v['delta_usd']:+,.0f}",
                f"{v['gamma_1pct']:+,.0f}",
                f"{v['vega']:+,.0f}",
                f"{v['theta']:+,.0f}",
            )

        for (u, e), v in g.by_expiry.items():
            row(u, e, v)
        for u, v in g.by_underlying.items():
            row(f"[bold]{u}[/bold]", "total", v)
        _out().print(t)

    _run(go)


@app.command()
def compare(
    positions: PositionsArg,
    market: MarketOpt,
    collateral: CollateralOpt = None,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The same positions under Deribit's four modes: standard vs portfolio margin,
    segregated vs cross collateral, with equity and available funds."""

    def go() -> None:
        from ..accounts.account import Account, compare_margin_modes
        from .inputs import read_collateral

        pf, mkt = _inputs(positions, market, time)
        modes = compare_margin_modes(Account(pf, read_collateral(collateral)), mkt)
        rows = {m.value: (s if isinstance(s, str) else s.as_row()) for m, s in modes.items()}
        if as_json:
            _print_json(rows)
            return
        t = Table(title="Margin modes (USD)", title_justify="left")
        for col in ("mode", "equity", "IM", "MM", "available", "MM ratio"):
            t.add_column(col, justify="left" if col == "mode" else "right")
        for m, r in rows.items():
            if isinstance(r, str):
                t.add_row(m, f"not covered: {r}", "", "", "", "")
            else:
                t.add_row(
                    m,
                    f"{r['equity_usd']:,.0f}",
                    f"{r['initial_margin_usd']:,.0f}",
                    f"{r['maintenance_margin_usd']:,.0f}",
                    f"{r['available_funds_usd']:,.0f}",
                    f"{r['mm_ratio']:.1%}",
                )
        _out().print(t)

    _run(go)


@app.command()
def whatif(
    positions: PositionsArg,
    market: MarketOpt,
    order: Annotated[
        list[str],
        typer.Option(
            help="INSTRUMENT:buy|sell:AMOUNT (Deribit amounts: USD for inverse "
            "futures, coins otherwise); repeat for several candidates"
        ),
    ],
    collateral: CollateralOpt = None,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
    model: Annotated[
        Model,
        typer.Option(
            help="deribit-pm (default), deribit-xpm, deribit-standard, paradex-pm, finra-pm, "
            "delta-margin"
        ),
    ] = Model.deribit_pm,
    grid_file: Annotated[
        Path | None,
        typer.Option("--grid-file", help="a grid venue's parameter file (instead of --model)"),
    ] = None,
    span_file: SpanFileOpt = None,
) -> None:
    """Pre-trade checks: could the account carry each candidate order (each on its own)?
    The pre-trade engine under any model: Deribit S:PM, X:PM or standard margin, Paradex PM,
    the FINRA grid, the Greek-netting model, SPAN (--span-file) or any grid venue from its
    parameter file (the grid models, SPAN and the Greek-netting model take USD-settled
    instruments)."""

    def go() -> None:
        from ..accounts.engine import PreTradeEngine, Reason, Side
        from ..exceptions import InvalidInputError
        from ..market.instruments import InstrumentKind, Settlement, parse_instrument
        from .inputs import read_collateral

        chosen = _chosen_model(model, grid_file, span_file)
        params: Any = _model_params(chosen, grid_file, span_file)
        pf, mkt = _inputs(positions, market, time)
        cands = []
        for row, spec in enumerate(order):
            parts = spec.split(":")
            if len(parts) != 3 or parts[1].lower() not in ("buy", "sell"):
                raise InvalidInputError(
                    f"expected INSTRUMENT:buy|sell:AMOUNT, got {spec!r}", "order", row
                )
            try:
                amount = float(parts[2])
            except ValueError:
                raise InvalidInputError(f"not a number: {parts[2]!r}", "order", row) from None
            if not (math.isfinite(amount) and amount > 0):
                raise InvalidInputError(
                    f"the amount must be finite and > 0, got {parts[2]!r}", "order", row
                )
            try:  # the instrument can be valued in this market (not expired, marked)
                mkt.table.rows([parts[0]])
            except PymarginError as e:
                why = e.reason if parts[0] in e.reason else f"{parts[0]}: {e.reason}"
                raise InvalidInputError(why, "order", row) from None
            cands.append((parts[0], Side.BUY if parts[1].lower() == "buy" else Side.SELL, amount))
        names = list(dict.fromkeys([*pf.positions, *(c[0] for c in cands)]))
        eng = PreTradeEngine(mkt, names, params, model=chosen)
        acct = eng.add_account({k.lower(): v for k, v in read_collateral(collateral).items()})
        for name, size in pf.positions.items():  # book the positions at their marks
            inst = parse_instrument(name)
            f = mkt.underlying_price(inst)
            amount = abs(size)
            if inst.kind is not InstrumentKind.OPTION and inst.settlement is Settlement.INVERSE:
                amount *= f  # engine amounts: USD for inverse futures
            price = (
                f
                if inst.kind is not InstrumentKind.OPTION
                else max(
                    (mkt.marks.get(name).mark_price if mkt.marks.get(name) else None) or 1e-8, 1e-8
                )
            )
            eng.fill(acct, name, Side.BUY if size > 0 else Side.SELL, amount, price)
        results = [eng.check(acct, n, s, a) for n, s, a in cands]
        if as_json:
            _print_json([{"order": o, **r._asdict()} for o, r in zip(order, results)])
            return
        t = Table(title="Pre-trade checks", title_justify="left")
        for col in ("order", "decision", "IM before", "IM after", "available after"):
            t.add_column(col, justify="left" if col in ("order", "decision") else "right")
        for o, r in zip(order, results):
            decision = (
                "[green]accept[/green]"
                if r.accept
                else f"[red]reject[/red] ({Reason(r.reason).name.lower()})"
            )
            t.add_row(
                o,
                decision,
                f"{r.im_before:,.6g}",
                f"{r.im_after:,.6g}",
                f"{r.available_after:,.6g} {r.currency.upper()}",
            )
        _out().print(t)

    _run(go)


@app.command()
def report(
    positions: PositionsArg,
    market: MarketOpt,
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write")],
    collateral: CollateralOpt = None,
    time: TimeOpt = None,
) -> None:
    """A self-contained HTML report: summary, breakdown, risk matrix, Greeks, model comparison
    (plots embedded)."""

    def go() -> None:
        from rich.progress import Progress

        from ..reporting.report import write_report
        from .inputs import read_collateral

        _writable(output, "--output")
        pf, mkt = _inputs(positions, market, time)
        with Progress(transient=True, console=err) as progress:
            task = progress.add_task("report", total=None)

            def step(what: str) -> None:
                progress.update(task, description=what)

            write_report(pf, mkt, output, collateral=read_collateral(collateral), progress=step)
        _out().print(f"wrote {output}")

    _run(go)


class VarMethod(str, enum.Enum):
    historical = "historical"
    filtered_ewma = "filtered-ewma"
    filtered_garch = "filtered-garch"
    delta_normal = "delta-normal"
    delta_gamma = "delta-gamma"
    monte_carlo = "monte-carlo"


class Dist(str, enum.Enum):
    normal = "normal"
    t = "t"


@app.command("var")
def var_cmd(
    positions: PositionsArg,
    market: MarketOpt,
    method: Annotated[VarMethod, typer.Option(help="VaR method")] = VarMethod.historical,
    confidence: Annotated[float, typer.Option(help="confidence level")] = 0.99,
    horizon: Annotated[int, typer.Option(help="horizon in days")] = 1,
    paths: Annotated[int, typer.Option(help="Monte Carlo paths")] = 100_000,
    dist: Annotated[Dist, typer.Option(help="Monte Carlo shocks")] = Dist.normal,
    plot: Annotated[Path | None, typer.Option(help="write the P&L distribution (PNG)")] = None,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Value at Risk and Expected Shortfall (USD) by full revaluation, with the scenario."""

    def go() -> None:
        from ..analytics import var

        _writable(plot, "--plot")
        pf, mkt = _inputs(positions, market, time)
        if method is VarMethod.historical:
            r = var.historical_var(pf, mkt, confidence=confidence, horizon=horizon)
        elif method in (VarMethod.filtered_ewma, VarMethod.filtered_garch):
            filt = "ewma" if method is VarMethod.filtered_ewma else "garch"
            r = var.historical_var(pf, mkt, confidence=confidence, horizon=horizon, filtered=filt)
        elif method is VarMethod.monte_carlo:
            r = var.monte_carlo_var(
                pf,
                mkt,
                paths=paths,
                confidence=confidence,
                horizon=horizon,
                dist=var.ShockDistribution(dist.value),
            )
        else:
            r = var.parametric_var(
                pf,
                mkt,
                confidence=confidence,
                horizon=horizon,
                gamma=method is VarMethod.delta_gamma,
            )
        if plot is not None:
            import matplotlib.pyplot as plt

            r.plot().figure.savefig(plot, dpi=110, bbox_inches="tight")
            plt.close("all")
        out = {
            "method": r.method.value,
            "confidence": r.confidence,
            "horizon_days": r.horizon_days,
            "var_usd": r.var,
            "es_usd": r.es,
            "scenario": r.scenario,
            "worst": r.worst,
        }
        if as_json:
            _print_json(out)
            return
        t = Table(title=f"VaR / ES ({r.method.value})", title_justify="left")
        t.add_column("")
        t.add_column("value", justify="right")
        t.add_row(f"VaR {confidence:.1%}, {horizon} day(s)", f"{r.var:,.0f} USD")
        t.add_row("Expected Shortfall", f"{r.es:,.0f} USD")
        if r.scenario:
            t.add_row("scenario at the VaR", r.scenario)
            t.add_row("worst scenario", r.worst)
        _out().print(t)

    _run(go)


@app.command()
def stress(
    positions: PositionsArg,
    market: MarketOpt,
    collateral: CollateralOpt = None,
    top: Annotated[int, typer.Option(help="show the worst N scenarios")] = 15,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Named historical stresses (2020-03-12, 2021-05-19, LUNA, FTX ...), synthetic spot x vol
    grids, vol-of-vol and correlation breaks; and, with collateral, the reverse stress (the
    smallest moves that wipe out the account's equity)."""

    def go() -> None:
        from ..accounts.account import Account, account_summary
        from ..analytics import stress as st
        from ..exceptions import InvalidInputError
        from ..market.portfolio import Portfolio
        from .inputs import read_collateral

        if top < 0:
            raise InvalidInputError(f"must be >= 0, got {top}", "--top")
        pf, mkt = _inputs(positions, market, time)
        results = st.stress_test(pf, mkt)
        coll = read_collateral(collateral)
        reverse = {}
        if coll:
            equity = account_summary(Account(pf, coll), mkt).equity_usd
            # Coin collateral moves with its price: counted as a spot holding.
            held = dict(pf.positions)
            for ccy, bal in coll.items():
                if f"{ccy}_USD" in mkt.index and bal > 0:
                    held[f"{ccy}_USDC"] = held.get(f"{ccy}_USDC", 0.0) + bal
            book = Portfolio(held)
            for way in st.Direction:
                reverse[way.value] = st.reverse_stress(
                    book, mkt, equity, direction=way, vol_beta=1.0
                )
        if as_json:
            _print_json(
                {
                    "scenarios": [
                        {
                            "name": s.name,
                            "pnl_usd": p,
                            "moves": s.moves,
                            "vol_scale": s.vol_scale,
                            "source": s.source,
                        }
                        for s, p in results
                    ],
                    "reverse": reverse,
                }
            )
            return
        t = Table(title="Stress tests (P&L, USD), worst first", title_justify="left")
        for c in ("scenario", "P&L", "moves", "source"):
            t.add_column(c, justify="right" if c == "P&L" else "left")
        for sc, pnl in results[:top]:
            moves = ", ".join(f"{u.split('_')[0]} {m:+.1%}" for u, m in sc.moves.items())
            t.add_row(sc.name, f"{pnl:,.0f}", moves, sc.source[:60])
        _out().print(t)
        for d, r in reverse.items():
            if r["move"] is None:
                _out().print(f"reverse stress ({d}): no move within range exhausts the equity")
            else:
                _out().print(
                    f"reverse stress ({d}): equity {r['equity_usd']:,.0f} USD is gone at a spot "
                    f"move of {r['move']:+.1%} (implied vols x{r['vol_scale']:.2f})"
                )

    _run(go)


@app.command()
def liquidation(
    positions: PositionsArg,
    market: MarketOpt,
    collateral: CollateralOpt = None,
    plot: Annotated[Path | None, typer.Option(help="write the liquidation surface (PNG)")] = None,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Margin status, and the spot moves (per vol scenario) at which equity meets maintenance
    margin under Deribit portfolio margin; optionally the liquidation surface."""

    def go() -> None:
        from ..accounts import liquidation as liq
        from ..accounts.account import Account
        from .inputs import read_collateral

        _writable(plot, "--plot")
        pf, mkt = _inputs(positions, market, time)
        acct = Account(pf, read_collateral(collateral))
        status = liq.margin_status(acct, mkt)
        roots = liq.distance_to_liquidation(acct, mkt)
        if plot is not None:
            import matplotlib.pyplot as plt

            from ..reporting.plots import plot_liquidation_surface

            surface = liq.liquidation_surface(acct, mkt)
            plot_liquidation_surface(surface).figure.savefig(plot, dpi=110, bbox_inches="tight")
            plt.close("all")
        if as_json:
            _print_json(
                {
                    "status": status.status.value,
                    "mm_ratio": status.mm_ratio,
                    "liquidation_moves": {str(k): v for k, v in roots.items()},
                }
            )
            return
        con = _out()
        con.print(
            f"status: [bold]{status.status.value}[/bold]; margin balance "
            f"{status.margin_balance_usd:,.0f} USD, IM {status.initial_margin_usd:,.0f}, "
            f"MM {status.maintenance_margin_usd:,.0f} (MM ratio {status.mm_ratio:.1%})"
        )
        for v, moves in roots.items():
            where = ", ".join(f"{m:+.1%}" for m in moves) or "none between -90 % and +200 %"
            con.print(f"  vols x{v:g}: liquidation at spot moves {where}")

    _run(go)


def _chosen_model(model: Model, grid_file: Path | None, span_file: Path | None = None) -> Any:
    """The MarginModel of --model, SCENARIO_GRID for --grid-file or SPAN16 for --span-file
    (one of the three)."""
    from ..exceptions import InvalidInputError
    from ..models.registry import MarginModel

    given = [f for f, v in (("--grid-file", grid_file), ("--span-file", span_file)) if v]
    if (given and model is not Model.deribit_pm) or len(given) > 1:
        raise InvalidInputError("give one of --model, --grid-file and --span-file", given[-1])
    if grid_file is not None:
        return MarginModel.SCENARIO_GRID
    if span_file is not None:
        return MarginModel.SPAN16
    return MarginModel(model.value.replace("-", "_"))


def _model_params(chosen: Any, grid_file: Path | None, span_file: Path | None) -> Any:
    """The parameters the file options give (None for the other models)."""
    if grid_file is not None:
        return str(grid_file)
    if span_file is not None:
        from ..models.span import SpanParams

        return SpanParams.from_file(span_file)
    return None


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


@app.command()
def venue(
    positions: VenuePositions,
    collateral: VenueCollateral,
    market: MarketOpt,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="CSV or Parquet")] = None,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
    model: Annotated[
        Model,
        typer.Option(
            help="deribit-pm, deribit-xpm (collateral with a currency column), "
            "deribit-standard, delta-margin, paradex-pm or finra-pm"
        ),
    ] = Model.deribit_pm,
    grid_file: Annotated[
        Path | None,
        typer.Option("--grid-file", help="a grid venue's parameter file (instead of --model)"),
    ] = None,
    span_file: SpanFileOpt = None,
) -> None:
    """Every account of a venue margined at once (C++ batch kernels; Deribit S:PM by default,
    or Deribit X:PM, standard margin, the Greek-netting model, Paradex PM, the FINRA grid,
    SPAN, or any grid venue from its parameter file): counts by status, and the per-account
    table written to --output. X:PM reads each balance's currency from the collateral's
    ``currency`` column and reports USD."""

    def go() -> None:
        import numpy as np
        from rich.progress import Progress

        from ..accounts.batch import STATUS, batch_margin
        from ..models.registry import MarginModel
        from .inputs import read_market

        _writable(output, "--output")
        chosen = _chosen_model(model, grid_file, span_file)
        params: Any = _model_params(chosen, grid_file, span_file)
        if chosen is MarginModel.FINRA_PM:
            params = {}
        mkt = read_market(market, _when(time))
        with Progress(transient=True, console=err) as progress:
            progress.add_task("margining every account", total=None)
            res = batch_margin(str(positions), str(collateral), mkt, params, model=chosen)
            if output is not None:
                if str(output).lower().endswith(".parquet"):
                    res.to_parquet(str(output))
                else:
                    res.to_csv(str(output))
        counts = {STATUS[k]: int((res.status == k).sum()) for k in range(len(STATUS))}
        covered = res.status != STATUS.index("not covered")
        summary: dict[str, Any] = {
            "accounts": len(res.accounts),
            "currency": res.currency,
            "status": counts,
            # accounts not covered by the published model have no margin: the totals are
            # over the covered ones, and say so
            "initial_margin_total": float(res.initial_margin[covered].sum()),
            "maintenance_margin_total": float(res.maintenance_margin[covered].sum()),
            "totals_over": "all accounts" if covered.all() else "covered accounts only",
        }
        if not np.isfinite(summary["initial_margin_total"] + summary["maintenance_margin_total"]):
            from ..exceptions import InvalidInputError

            raise InvalidInputError("the margin totals are not finite", "positions")
        if as_json:
            _print_json(summary)
            return
        note = "" if covered.all() else " (covered accounts)"
        _out().print(
            f"{summary['accounts']:,} accounts ({res.currency.upper()}): "
            + ", ".join(f"{v:,} {k}" for k, v in counts.items())
            + f"; IM total{note} {summary['initial_margin_total']:,.4f}, MM total "
            f"{summary['maintenance_margin_total']:,.4f}"
        )

    _run(go)


@app.command()
def cascade(
    positions: VenuePositions,
    collateral: VenueCollateral,
    market: MarketOpt,
    shock: Annotated[float, typer.Option(help="initial price move, e.g. -0.1")],
    adv: Annotated[float, typer.Option(help="average daily volume, coins")] = 25_000.0,
    daily_vol: Annotated[float, typer.Option(help="daily volatility for the impact")] = 0.03,
    max_rounds: Annotated[int, typer.Option(help="most rounds to simulate")] = 50,
    plot: Annotated[Path | None, typer.Option(help="write the cascade plot (PNG)")] = None,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The liquidation cascade after a price shock (square-root impact): rounds, liquidations,
    shortfall and amplification."""

    def go() -> None:
        from ..accounts.batch import venue_input
        from ..accounts.cascade import ImpactModel, liquidation_cascade
        from .inputs import read_market

        _writable(plot, "--plot")
        mkt = read_market(market, _when(time))
        v = venue_input(str(positions), str(collateral))
        res = liquidation_cascade(
            mkt,
            v.instruments,
            v.offsets,
            v.instrument,
            v.amount,
            v.collateral,
            shock,
            impact=ImpactModel(adv=adv, daily_vol=daily_vol),
            max_rounds=max_rounds,
        )
        if plot is not None:
            import matplotlib.pyplot as plt

            res.plot().savefig(plot, dpi=110, bbox_inches="tight")
            plt.close("all")
        rows = [r.__dict__ for r in res.rounds]
        if as_json:
            _print_json(
                {
                    "rounds": rows,
                    "final_move": res.final_move,
                    "amplification": res.amplification,
                    "shortfall": res.shortfall,
                    "liquidated": int(res.liquidated.sum()),
                    "converged": res.converged,
                }
            )
            return
        t = Table(title="Liquidation cascade", title_justify="left")
        for c in (
            "round",
            "move",
            "price",
            "liquidated",
            "notional USD",
            "flow, coins",
            "shortfall",
        ):
            t.add_column(c, justify="right")
        for r in res.rounds:
            t.add_row(
                str(r.round),
                f"{r.move:+.2%}",
                f"{r.price:,.0f}",
                str(r.liquidated),
                f"{r.notional_usd:,.0f}",
                f"{r.flow_coins:+,.1f}",
                f"{r.shortfall:,.4f}",
            )
        _out().print(t)
        amp = "n/a" if shock == 0 else f"{res.amplification:.2f}x"
        _out().print(
            f"final move {res.final_move:+.2%} from a {shock:+.1%} shock "
            f"(amplification {amp}); {int(res.liquidated.sum()):,} accounts "
            f"liquidated; shortfall {res.shortfall:,.4f} to be covered by the insurance fund"
        )
        if not res.converged:
            still = "accounts still failing" if res.rounds[-1].liquidated else "price still moving"
            _out().print(
                f"[yellow]stopped after {len(res.rounds)} rounds, {still} "
                "(raise --max-rounds or check the impact parameters)[/yellow]"
            )

    _run(go)


def _floats(spec: str, field: str) -> list[float]:
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


def _names(spec: str, field: str) -> list[str]:
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


def _underlying_of(pf: Any, mkt: Any) -> str:
    from ..risk.pnl import portfolio_underlyings

    return portfolio_underlyings(pf, mkt)[0]


@app.command()
def hedge(
    positions: PositionsArg,
    market: MarketOpt,
    target: Annotated[float, typer.Option(help="target delta, coins")] = 0.0,
    horizon_days: Annotated[float, typer.Option(help="carry horizon, days")] = 7.0,
    funding_rate: Annotated[float, typer.Option(help="perpetual funding, a year")] = 0.0,
    band: Annotated[float | None, typer.Option(help="delta band (coins) for drift")] = None,
    min_variance: Annotated[
        str | None,
        typer.Option(help="hedge instruments for the minimum-variance hedge (comma-separated)"),
    ] = None,
    estimator: Annotated[Estimator, typer.Option(help="covariance estimator")] = (Estimator.sample),
    time: TimeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delta-hedge suggestions (perpetual or futures), cheapest first: fees, spread, carry;
    optionally the minimum-variance hedge on the bundled daily history."""

    def go() -> None:
        from ..enums import Greek
        from ..strategy.hedging import delta_hedge, drift

        pf, mkt = _inputs(positions, market, time)
        sug = delta_hedge(
            pf, mkt, target=target, horizon_days=horizon_days, funding_rate=funding_rate
        )
        drifts = drift(pf, mkt, {Greek.DELTA: (target, band)}) if band is not None else []
        mv = None
        if min_variance:
            from ..strategy.hedging import CovarianceEstimator, min_variance_hedge

            names = _names(min_variance, "min_variance")
            mv = min_variance_hedge(pf, mkt, names, estimator=CovarianceEstimator(estimator.value))
        if as_json:
            out: dict[str, Any] = {
                "suggestions": [dict(s.__dict__, cost=s.cost) for s in sug],
                "drift": [dict(d.__dict__, excess=d.excess) for d in drifts],
            }
            if mv is not None:
                out["min_variance"] = {
                    "sizes": mv.sizes,
                    "std_before": mv.std_before,
                    "std_after": mv.std_after,
                    "estimator": mv.estimator.value,
                    "observations": mv.observations,
                }
            _print_json(out)
            return
        tab = Table(
            title=f"Delta hedges to {target:+g} coins (USD costs, {horizon_days:g} days)",
            title_justify="left",
        )
        for c in ("instrument", "size", "delta before", "fees", "spread", "carry", "roll", "cost"):
            tab.add_column(c, justify="left" if c == "instrument" else "right")
        for s in sug:
            tab.add_row(
                s.instrument,
                f"{s.size:+,.3f}",
                f"{s.delta_before:+,.3f}",
                f"{s.fees:,.2f}",
                f"{s.spread:,.2f}",
                f"{s.carry:+,.2f}",
                f"{s.roll:,.2f}",
                f"{s.cost:,.2f}",
            )
        _out().print(tab)
        for d in drifts:
            state = "[red]outside[/red]" if d.breached else "inside"
            _out().print(
                f"{d.underlying} delta {d.value:+.3f} is {state} its band {d.target:+g} "
                f"+- {d.band:g}"
            )
        if mv is not None:
            sizes = ", ".join(f"{k} {v:+,.3f}" for k, v in mv.sizes.items())
            _out().print(
                f"minimum-variance hedge ({mv.estimator.value} covariance of {mv.observations:,} "
                f"days of P&L): {sizes}; daily P&L std {mv.std_before:,.0f} -> "
                f"{mv.std_after:,.0f} USD ({mv.variance_reduction:.0%} of the variance removed)"
            )

    _run(go)


@app.command()
def optimize(
    positions: PositionsArg,
    market: MarketOpt,
    candidates: Annotated[
        str | None, typer.Option(help="comma-separated instruments (default: listed ones)")
    ] = None,
    model: Annotated[Model, typer.Option(help="deribit-pm, paradex-pm or finra-pm")] = (
        Model.deribit_pm
    ),
    max_size: Annotated[float, typer.Option(help="largest buy or sell per candidate")] = 50.0,
    delta_range: Annotated[str | None, typer.Option(help="net delta after, LO:HI coins")] = None,
    budget: Annotated[float | None, typer.Option(help="cash the trade may use")] = None,
    lot: Annotated[float | None, typer.Option(help="trade whole lots (MILP)")] = None,
    with_cost: Annotated[
        bool, typer.Option("--with-cost", help="minimise margin + trading cost")
    ] = False,
    plot: Annotated[Path | None, typer.Option(help="margin before/after chart (PNG)")] = None,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The trade that minimises initial margin (a linear programme), re-margined by the
    ordinary engine."""

    def go() -> None:
        from ..exceptions import InvalidInputError
        from ..models.registry import MarginModel
        from ..strategy.optimize import Objective, default_candidates, minimize_margin

        _writable(plot, "--plot")
        pf, mkt = _inputs(positions, market, time)
        chosen = MarginModel(model.value.replace("-", "_"))
        if candidates:
            names = _names(candidates, "candidates")
        else:
            from ..market.instruments import Settlement

            table = mkt.table
            rows = table.rows(list(pf.positions))
            kinds = {int(k) for k in table.column("settlement")[rows]}
            if not kinds:
                raise InvalidInputError("no positions", "positions")
            if len(kinds) != 1:
                raise InvalidInputError(
                    "positions are both coin- and USDC-settled: pass --candidates", "candidates"
                )
            names = default_candidates(
                mkt, _underlying_of(pf, mkt), settlement=Settlement(kinds.pop())
            )
        rng = None
        if delta_range:
            lo_hi = delta_range.split(":")
            if len(lo_hi) != 2:
                raise InvalidInputError("expected LO:HI", "delta_range")
            bounds = []
            for row, part in enumerate(lo_hi):  # an infinite bound is one-sided: allowed
                try:
                    bounds.append(float(part))
                except ValueError:
                    raise InvalidInputError(f"not a number: {part!r}", "delta_range", row) from None
            rng = (bounds[0], bounds[1])
        with Console(stderr=True).status("solving the margin programme"):
            res = minimize_margin(
                pf,
                mkt,
                names,
                chosen,
                objective=Objective.MARGIN_PLUS_COST if with_cost else Objective.MARGIN,
                budget=budget,
                delta_range=rng,
                max_buy=max_size,
                max_sell=max_size,
                lot=lot,
            )
        if plot is not None:
            import matplotlib.pyplot as plt

            res.plot().figure.savefig(plot, dpi=110, bbox_inches="tight")
            plt.close("all")
        out = {
            "model": chosen.value,
            "currency": res.currency,
            "margin_before": res.margin_before,
            "margin_after": res.margin_after,
            "verified_margin": res.verified_margin,
            "trading_cost": res.trading_cost,
            "premium": res.premium,
            "trades": res.trades,
            "delta_after": res.delta_after,
            "candidates": len(names),
            "seconds": res.solve_seconds,
        }
        if as_json:
            _print_json(out)
            return
        ccy = res.currency.upper()
        tab = Table(title=f"Margin-minimising trade ({chosen.value})", title_justify="left")
        tab.add_column("instrument")
        tab.add_column("size", justify="right")
        for k, v in sorted(res.trades.items(), key=lambda kv: -abs(kv[1])):
            tab.add_row(k, f"{v:+,.4f}")
        _out().print(tab)
        _out().print(
            f"IM {res.margin_before:,.6g} -> {res.verified_margin:,.6g} {ccy} (programme "
            f"{res.margin_after:,.6g}); trading cost {res.trading_cost:,.6g}, premium "
            f"{res.premium:+,.6g} {ccy}; {len(names)} candidates, {res.solve_seconds:.2f} s"
        )

    _run(go)


@app.command()
def protect(
    positions: PositionsArg,
    market: MarketOpt,
    max_loss: Annotated[float, typer.Option(help="largest loss allowed, USD")],
    time: TimeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The cheapest put / put-spread overlay that caps the loss in the historical crashes."""

    def go() -> None:
        from ..analytics.stress import historical_scenarios
        from ..strategy.optimize import protect as solve

        pf, mkt = _inputs(positions, market, time)
        und = _underlying_of(pf, mkt)
        crashes = [
            s for s in historical_scenarios((und.split("_")[0],)) if s.moves.get(und, 0.0) < 0
        ]
        res = solve(pf, mkt, crashes, max_loss)
        if as_json:
            _print_json(res.__dict__)
            return
        tab = Table(title="Protective overlay", title_justify="left")
        tab.add_column("structure")
        tab.add_column("count", justify="right")
        for name, n in res.structures:
            tab.add_row(name, f"{n:,.3f}")
        _out().print(tab)
        loss = Table(title="Loss by crash (USD)", title_justify="left")
        for c in ("scenario", "before", "after"):
            loss.add_column(c, justify="left" if c == "scenario" else "right")
        for k in res.loss_before:
            loss.add_row(k, f"{res.loss_before[k]:,.0f}", f"{res.loss_after[k]:,.0f}")
        _out().print(loss)
        _out().print(
            f"premium {res.premium:,.0f} USD at the ask, fees included ({res.execution_cost:,.0f}"
            " of it lost to spread and fees on entry)"
        )

    _run(go)


@app.command("hedge-cost")
def hedge_cost(
    positions: PositionsArg,
    market: MarketOpt,
    realised_vol: Annotated[float, typer.Option(help="realised volatility, e.g. 0.5")],
    horizon_days: Annotated[float, typer.Option(help="horizon, days")] = 1.0,
    intervals: Annotated[str, typer.Option(help="time policies, hours")] = "0.5,1,2,4,8",
    bands: Annotated[str, typer.Option(help="band policies, coins of delta")] = "",
    paths: Annotated[int, typer.Option(help="Monte Carlo paths")] = 2000,
    plot: Annotated[Path | None, typer.Option(help="cost vs risk chart (PNG)")] = None,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The cost of keeping the book delta-hedged: rebalancing policies by cost and residual
    risk, analytic and simulated on Monte Carlo paths."""

    def go() -> None:
        from ..strategy.hedging import BandPolicy, TimePolicy, compare_policies

        _writable(plot, "--plot")
        pf, mkt = _inputs(positions, market, time)
        pols: list[Any] = [TimePolicy(h) for h in _floats(intervals, "intervals")]
        if bands:
            pols += [BandPolicy(b) for b in _floats(bands, "bands")]
        with Console(stderr=True).status("simulating rebalancing"):
            sims = compare_policies(
                pf,
                mkt,
                pols,
                realised_vol=realised_vol,
                horizon_days=horizon_days,
                paths=paths,
                underlying=_underlying_of(pf, mkt),
            )
        if plot is not None:
            import matplotlib.pyplot as plt

            from ..reporting.plots import plot_cost_frequency

            plot_cost_frequency(sims).savefig(plot, dpi=110, bbox_inches="tight")
            plt.close("all")
        rows: list[dict[str, Any]] = [
            {
                "policy": s.policy,
                "cost_mc": s.cost_mean,
                "cost_mc_se": s.cost_se,
                "cost_analytic": s.analytic.expected_cost,
                "hedge_error_mc": s.hedge_error_std,
                "hedge_error_analytic": s.analytic.hedge_error_std,
                "trades_mc": s.trades_mean,
                "trades_analytic": s.analytic.expected_trades,
                "pnl_mean": s.pnl_mean,
            }
            for s in sims
        ]
        if as_json:
            _print_json(rows)
            return
        a = sims[0].analytic
        tab = Table(
            title=f"Re-hedging {a.underlying} over {horizon_days:g} days at {realised_vol:.0%} "
            f"realised vol (USD; cash gamma {a.cash_gamma:,.0f})",
            title_justify="left",
        )
        for c in ("policy", "cost MC", "cost analytic", "error MC", "error analytic", "trades"):
            tab.add_column(c, justify="left" if c == "policy" else "right")
        for r in rows:
            tab.add_row(
                str(r["policy"]),
                f"{r['cost_mc']:,.1f} +- {2 * r['cost_mc_se']:,.1f}",
                f"{r['cost_analytic']:,.1f}",
                f"{r['hedge_error_mc']:,.0f}",
                f"{r['hedge_error_analytic']:,.0f}",
                f"{r['trades_mc']:.1f}",
            )
        _out().print(tab)
        _out().print(
            f"expected gamma P&L {a.gamma_pnl:+,.0f}, theta {a.theta_pnl:+,.0f} USD over the "
            "horizon (before costs)"
        )

    _run(go)


@app.command()
def venues(
    accounts: Annotated[Path, typer.Argument(help="JSON: accounts (and placements) per venue")],
    market: MarketOpt,
    time: TimeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cross-venue margin: each venue under its own model, the unified portfolio's margin, and
    (when the file has placements) where to put them to minimise the total."""

    def go() -> None:
        from ..strategy.crossvenue import allocate, cross_venue_view
        from .inputs import read_market, read_venues

        mkt = read_market(market, _when(time))
        accts, places = read_venues(accounts)
        view = cross_venue_view(accts, mkt)
        alloc = allocate(accts, mkt, places) if places else None
        if as_json:
            out: dict[str, Any] = {
                "venues": [v.__dict__ for v in view.venues],
                "total_im_usd": view.total_im_usd,
                "unified_model": view.unified_model.value,
                "unified_im_usd": view.unified_im_usd,
                "net_delta": view.net_delta,
            }
            if alloc is not None:
                out["allocation"] = alloc.allocation
                out["allocated_im_usd"] = alloc.verified_total_im_usd
                out["single_venue_usd"] = alloc.single_venue_usd
            _print_json(out)
            return
        tab = Table(title="Margin by venue (USD)", title_justify="left")
        for c in ("venue", "model", "IM", "MM", "collateral", "excess"):
            tab.add_column(c, justify="left" if c in ("venue", "model") else "right")
        for v in view.venues:
            tab.add_row(
                v.venue,
                v.model.value,
                f"{v.im_usd:,.0f}",
                f"{v.mm_usd:,.0f}",
                f"{v.collateral_usd:,.0f}",
                f"{v.excess_usd:,.0f}",
            )
        _out().print(tab)
        _out().print(
            f"sum of venues {view.total_im_usd:,.0f} USD; one {view.unified_model.value} "
            f"account {view.unified_im_usd:,.0f} USD"
        )
        if alloc is not None:
            pt = Table(title="Placement across venues (coins)", title_justify="left")
            pt.add_column("placement")
            pt.add_column("venues")
            for name, where in alloc.allocation.items():
                pt.add_row(name, ", ".join(f"{v} {q:+,.3f}" for v, q in where.items()))
            _out().print(pt)
            singles = ", ".join(f"all on {k} {v:,.0f}" for k, v in alloc.single_venue_usd.items())
            _out().print(
                f"total IM {alloc.total_before_usd:,.0f} before, "
                f"{alloc.verified_total_im_usd:,.0f} USD after ({singles})"
            )

    _run(go)


def main() -> None:
    """The console script: Typer's app, with usage errors (a value that is not a number, an
    unknown option, a missing argument) as one line and exit 2, like every other bad input."""
    import sys

    try:
        code = app(standalone_mode=False)
    except Exception as e:
        # Click's exceptions (vendored by recent Typer, click's own before): matched by what
        # they offer rather than by a module path that moves between versions.
        name = type(e).__name__
        ctx = getattr(e, "ctx", None)
        if name == "NoArgsIsHelpError" and ctx is not None:  # bare `pymargin`: the help
            print(ctx.get_help())
            sys.exit(2)
        if name == "Abort":
            sys.exit(130)
        format_message = getattr(e, "format_message", None)
        if not callable(format_message):
            raise
        text = str(format_message()).replace("\r", "\\r").replace("\n", "\\n")
        where = f" (see {ctx.command_path} --help)" if ctx is not None else ""
        err.print(f"pymargin: error: {text}{where}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
