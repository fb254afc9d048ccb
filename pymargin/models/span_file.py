# SPDX-License-Identifier: Apache-2.0
"""SPAN on an exchange's own risk-parameter file (the CME SPAN XML format, "fileFormat 4.00",
as CME and NSE publish their daily ``.spn`` files): official risk arrays instead of pymargin's
revaluation.

:func:`read_span_file` streams the file (``iterparse``, elements cleared as they are read, so a
50 MB exchange file is read in one pass) and keeps what SPAN needs:

* every futures, physical and option contract: its product (exchange, product code, type),
  period, strike and put/call, price, contract value factor and its risk arrays (16 values per
  rate id, losses positive, per contract) with their composite deltas;
* every combined commodity (``ccDef``): the products it links, its intra-commodity tiers and
  calendar spreads (``dSpread``), its short-option minimum (``somTiers``) and rate adjustments
  (``adjRate``);
* the inter-commodity spreads: delta-based (``interSpreads/dSpread``, credit by weighted price
  risk) and scanning-based (``sSpread``).

:func:`span_file_margin` margins positions given as ``EXCH:PRODUCT:TYPE:PERIOD[:C|P:STRIKE]``:
scanning-based spreads first (the legs' arrays for the whole spreads they form, scenario by
scenario, losses plus the gain allowance times gains: the core's ``scanning_spread``), then per
combined commodity the core's SPAN requirement (scan risk, tiered calendar spreads, delta-based
inter-commodity credits, short option minimum), less the net option value. docs/models/span16.md
says what is read and what is refused.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import _core
from ..exceptions import FileInputError, InvalidInputError
from .params import ModelCoverageError
from .span import CommodityRisk, InterSpread, span_requirement

__all__ = ["ScanningSpread", "SpanFile", "SpanFileResult", "read_span_file", "span_file_margin"]

_PRODUCTS = {"futPf": "FUT", "phyPf": "PHY", "oofPf": "OOF", "oopPf": "OOP", "ooePf": "OOE"}


@dataclass
class _Contract:
    product: tuple[str, str, str]  # exchange, product code, type
    pf_id: str
    period: str
    put_call: str = ""
    strike: float = 0.0
    price: float = 0.0
    cvf: float = 1.0
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # rate id -> [16], losses +
    deltas: dict[str, float] = field(default_factory=dict)

    @property
    def key(self) -> str:
        exch, code, kind = self.product
        base = f"{exch}:{code}:{kind}:{self.period}"
        strike = f"{self.strike:f}".rstrip("0").rstrip(".")  # 130, 42.5, 1000000: no exponent
        return base if not self.put_call else f"{base}:{self.put_call}:{strike}"


@dataclass
class _Commodity:
    cc: str
    currency: str
    links: list[tuple[str, str, float]]  # exchange, pfId, scale
    tiers: list[tuple[int, str, str]]  # intra tiers: (tier number, start period, end period)
    intra: list[tuple[int, str, dict[str, float], list[tuple[int, str, float]]]]
    som: dict[str, float]
    adj: list[tuple[str, str, float]]  # rate id, base rate id, factor


@dataclass
class SpanFile:
    """What SPAN needs of an exchange's risk-parameter file (see the module docstring)."""

    date: str
    clearing_org: str
    contracts: dict[str, _Contract]
    commodities: dict[str, _Commodity]
    inter: list[tuple[int, str, dict[str, float], list[tuple[str, str, str, float]]]]
    scanning: list[tuple[int, dict[str, float], list[tuple[str, bool, float]]]]
    maintenance_rate: str = "1"  # the first maintenance rate id of the file's pbRateDef


def _text(e: ET.Element | None, tag: str, default: str = "") -> str:
    if e is None:
        return default
    c = e.find(tag)
    return default if c is None or c.text is None else c.text.strip()


def _num(e: ET.Element, tag: str, where: str, default: float | None = None) -> float:
    t = _text(e, tag)
    if not t:
        if default is None:
            raise InvalidInputError("missing", f"{where}.{tag}")
        return default
    try:
        v = float(t)
    except ValueError:
        raise InvalidInputError(f"not a number: {t!r}", f"{where}.{tag}") from None
    if not math.isfinite(v):
        raise InvalidInputError("not finite", f"{where}.{tag}")
    return v


def _rates(e: ET.Element, where: str) -> dict[str, float]:
    return {_text(r, "r"): _num(r, "val", where) for r in e.findall("rate")}


def _arrays(c: _Contract, e: ET.Element, where: str) -> None:
    for ra in e.findall("ra"):
        r = _text(ra, "r")
        values = [a.text for a in ra.findall("a")]
        if len(values) != 16:
            raise InvalidInputError(f"a risk array has 16 values, not {len(values)}", where)
        try:
            arr = np.array([float(v or "") for v in values])
        except ValueError:
            raise InvalidInputError("a risk array value is not a number", where) from None
        if not np.isfinite(arr).all():
            raise InvalidInputError("a risk array value is not finite", where)
        c.arrays[r] = arr
        c.deltas[r] = _num(ra, "d", where, 0.0)


def read_span_file(path: str | Path) -> SpanFile:
    """A SPAN XML risk-parameter file. Errors name the file and the element."""
    p = Path(path)
    if not p.is_file():
        raise FileInputError(str(path), "no such file")
    try:
        return _read(p)
    except ET.ParseError as e:
        raise FileInputError(str(path), f"not well-formed XML: {e}") from None
    except InvalidInputError as e:
        raise FileInputError(str(path), e) from None


def _read(p: Path) -> SpanFile:
    contracts: dict[str, _Contract] = {}
    ccs: dict[str, _Commodity] = {}
    inter: list = []
    scanning: list = []
    date = org = exch = ""
    maintenance_rate = ""
    pf: dict[str, str] = {}
    for event, e in ET.iterparse(p, events=("start", "end")):
        tag = e.tag
        if event == "start":
            if tag in _PRODUCTS:
                pf = {"type": _PRODUCTS[tag]}
            continue
        parent_pf = pf
        if tag == "date" and not date:
            date = (e.text or "").strip()
        elif tag == "ec" and not org:
            org = (e.text or "").strip()
        elif tag == "exch" and not pf:
            exch = (e.text or "").strip()
        elif tag in ("pfId", "pfCode", "cvf", "currency") and pf and tag not in pf:
            pf[tag] = (e.text or "").strip()
        elif tag in ("fut", "phy") and parent_pf:
            c = _Contract(
                (exch, parent_pf.get("pfCode", ""), parent_pf["type"]),
                parent_pf.get("pfId", ""),
                _text(e, "pe"),
                price=_num(e, "p", tag, 0.0),
                cvf=_num(e, "cvf", tag, float(parent_pf.get("cvf") or 1.0)),
            )
            _arrays(c, e, f"{tag} {c.key}")
            contracts[c.key] = c
            e.clear()
        elif tag == "series" and parent_pf:
            pe = _text(e, "pe")
            cvf = _num(e, "cvf", "series", float(parent_pf.get("cvf") or 1.0))
            for o in e.findall("opt"):
                c = _Contract(
                    (exch, parent_pf.get("pfCode", ""), parent_pf["type"]),
                    parent_pf.get("pfId", ""),
                    pe,
                    _text(o, "o").upper()[:1],
                    _num(o, "k", "opt"),
                    _num(o, "p", "opt", 0.0),
                    cvf,
                )
                _arrays(c, o, f"opt {c.key}")
                contracts[c.key] = c
            e.clear()
        elif tag in _PRODUCTS:
            pf = {}
        elif tag == "pbRateDef" and not maintenance_rate and _text(e, "isM") == "1":
            maintenance_rate = _text(e, "r")
        elif tag == "ccDef":
            ccs[_text(e, "cc")] = _commodity(e)
            e.clear()
        elif tag == "interSpreads":
            for d in e.findall("dSpread"):
                legs = [
                    (
                        _text(leg, "cc"),
                        _text(leg, "tn", "0"),
                        _text(leg, "rs"),
                        _num(leg, "i", "tLeg"),
                    )
                    for leg in d.findall("tLeg")
                ]
                inter.append(
                    (
                        int(_num(d, "spread", "dSpread")),
                        _text(d, "chargeMeth"),
                        _rates(d, "dSpread"),
                        legs,
                    )
                )
            for s in e.findall("sSpread"):
                legs2 = [
                    (_text(leg, "cc"), _text(leg, "isTarget") == "1", _num(leg, "i", "sLeg", 1.0))
                    for leg in s.findall("sLeg")
                ]
                scanning.append((int(_num(s, "spread", "sSpread")), _rates(s, "sSpread"), legs2))
            e.clear()
    if not contracts:
        raise InvalidInputError("no contract with risk arrays", "spanFile")
    inter.sort(key=lambda x: x[0])
    scanning.sort(key=lambda x: x[0])
    return SpanFile(date, org, contracts, ccs, inter, scanning, maintenance_rate or "1")


def _commodity(e: ET.Element) -> _Commodity:
    cc = _text(e, "cc")
    where = f"ccDef {cc}"
    links = [
        (_text(lk, "exch"), _text(lk, "pfId"), _num(lk, "sc", where, 1.0))
        for lk in e.findall("pfLink")
    ]
    tiers = [
        (int(_num(t, "tn", where)), _text(t, "sPe"), _text(t, "ePe"))
        for t in e.findall("intraTiers/tier")
    ]
    intra = []
    for d in e.findall("dSpread"):
        legs = []
        for leg in d.findall("tLeg"):
            tn = int(_num(leg, "tn", where))
            legs.append((tn, _text(leg, "rs"), _num(leg, "i", where)))
        intra.append(
            (int(_num(d, "spread", where)), _text(d, "chargeMeth"), _rates(d, where), legs)
        )
    intra.sort(key=lambda x: x[0])
    som: dict[str, float] = {}
    for t in e.findall("somTiers/tier"):
        for r, v in _rates(t, where).items():
            som[r] = max(som.get(r, 0.0), v)
    adj = [(_text(a, "r"), _text(a, "baseR"), _num(a, "val", where)) for a in e.findall("adjRate")]
    return _Commodity(cc, _text(e, "currency"), links, tiers, intra, som, adj)


@dataclass(frozen=True)
class ScanningSpread:
    """A scanning-based spread formed: its number in the file, whole spreads, legs, the leg
    its risk is charged to, the gain allowance, each scenario's value and the risk (the
    largest)."""

    spread: int
    spreads: int
    legs: list[str]
    target: str
    gain_allowance: float
    values: np.ndarray
    risk: float


@dataclass
class SpanFileResult:
    """SPAN of positions on an exchange's file: the requirement (maintenance, and initial by
    the file's rate adjustment), per combined commodity its parts, the scanning-based spreads'
    risks and the net option value."""

    maintenance_margin: float
    initial_margin: float
    per_commodity: dict[str, dict[str, float]]
    scanning_spreads: list[ScanningSpread]
    net_option_value: float
    currency: str


def _position_rows(
    positions: Mapping[str, float], span: SpanFile
) -> list[tuple[_Contract, float, str, float]]:
    link_of: dict[tuple[str, str], tuple[str, float]] = {}
    for com in span.commodities.values():
        for exch, pf_id, scale in com.links:
            link_of[(exch, pf_id)] = (com.cc, scale)
    out = []
    for row, (key, q) in enumerate(positions.items()):
        if isinstance(q, bool) or not isinstance(q, (int, float)) or not math.isfinite(q):
            raise InvalidInputError("must be a finite number", "quantity", row)
        c = span.contracts.get(key)
        if c is None:
            raise InvalidInputError(
                f"{key!r} is not a contract of the file (EXCH:PRODUCT:TYPE:PERIOD[:C|P:STRIKE])",
                "contract",
                row,
            )
        link = link_of.get((c.product[0], c.pf_id))
        if link is None:
            raise InvalidInputError(f"{key} is in no combined commodity", "contract", row)
        out.append((c, float(q), link[0], link[1]))
    return out


def span_file_margin(
    positions: Mapping[str, float], span: SpanFile, *, rate: str | None = None
) -> SpanFileResult:
    """SPAN of ``positions`` (contract key -> signed contracts) on ``span`` with the arrays of
    rate id ``rate`` (default the file's first maintenance rate, from its pbRateDef)."""
    if not positions:
        raise InvalidInputError("no positions", "positions")
    rows = _position_rows(positions, span)
    r = rate or span.maintenance_rate
    loss: dict[str, np.ndarray] = {}
    delta: dict[str, float] = {}
    for row, (c, q, cc, scale) in enumerate(rows):
        if r not in c.arrays:
            raise InvalidInputError(f"{c.key} has no risk array for rate {r}", "rate", row)
        loss[cc] = loss.get(cc, np.zeros(16)) + q * c.arrays[r]
        delta[cc] = delta.get(cc, 0.0) + q * c.deltas.get(r, 0.0) * scale
    # 1. scanning-based spreads, before anything else: whole spreads at the legs' ratios
    kept = dict.fromkeys(loss, 1.0)
    spreads_out: list[ScanningSpread] = []
    for spread, rates, legs in span.scanning:
        present = [(cc, i) for cc, _, i in legs if abs(delta.get(cc, 0.0) * kept.get(cc, 0.0)) > 0]
        signs = {np.sign(delta[cc]) for cc, _ in present}
        if len(present) < 2 or signs != {1.0, -1.0}:
            continue
        n = math.floor(min(abs(delta[cc]) * kept[cc] / i for cc, i in present) + 1e-9)
        if n <= 0:
            continue
        gain = rates.get(r, next(iter(rates.values()), 0.0))
        leg_arrays, used = [], {}
        for cc, i in present:
            f = n * i / abs(delta[cc])  # the share of the commodity the spread takes
            leg_arrays.append(f * loss[cc])
            used[cc] = f
        values, risk = _core.scanning_spread(np.ascontiguousarray(np.array(leg_arrays)), gain)
        for cc, f in used.items():
            kept[cc] -= f
        target = next((cc for cc, t, _ in legs if t and cc in used), next(iter(used)))
        spreads_out.append(
            ScanningSpread(spread, n, sorted(used), target, gain, np.asarray(values), float(risk))
        )
    # 2. each combined commodity on what the spreads left
    commodities = []
    short_calls: dict[str, float] = {}
    short_puts: dict[str, float] = {}
    nov: dict[str, float] = {}
    tiers: dict[str, np.ndarray] = {}
    for c, q, cc, scale in rows:
        com = span.commodities[cc]
        t = _tier(com, c.period)
        tiers.setdefault(cc, np.zeros(max(1, len(com.tiers))))
        tiers[cc][t] += q * c.deltas.get(r, 0.0) * scale * kept[cc]
        if c.put_call and q < 0:
            (short_calls if c.put_call == "C" else short_puts)[cc] = (
                short_calls if c.put_call == "C" else short_puts
            ).get(cc, 0.0) - q
        if c.put_call and c.product[2] in ("OOF", "OOP", "OOE"):
            nov[cc] = nov.get(cc, 0.0) + q * c.price * c.cvf
    for cc in loss:
        com = span.commodities[cc]
        intra = {}
        for spread, meth, rates, tlegs in com.intra:
            if len(tlegs) != 2 or meth != "F" or any(i != 1.0 for _, _, i in tlegs):
                raise ModelCoverageError(
                    f"{cc} intra-commodity spread {spread}: only two-leg flat spreads at 1:1 "
                    "are read (this one is not)"
                )
            number = {tn: k for k, (tn, _, _) in enumerate(com.tiers)}
            if tlegs[0][0] not in number or tlegs[1][0] not in number:
                raise ModelCoverageError(f"{cc} intra-commodity spread {spread}: unknown tier")
            intra[(number[tlegs[0][0]], number[tlegs[1][0]])] = rates.get(r, 0.0)
        commodities.append(
            CommodityRisk(
                cc,
                -loss[cc] * kept[cc],
                tiers[cc],
                max(short_calls.get(cc, 0.0), short_puts.get(cc, 0.0)),
                com.som.get(r, 0.0),
                intra,
            )
        )
    inter = []
    for spread, meth, rates, ilegs in span.inter:
        ccs = [leg[0] for leg in ilegs]
        if not all(cc in loss for cc in ccs):
            continue
        if len(ilegs) != 2 or meth not in ("W", "") or any(g[1] not in ("0", "") for g in ilegs):
            raise ModelCoverageError(
                f"inter-commodity spread {spread}: only two-leg spreads between whole "
                "commodities credited by weighted price risk are read (this one is not)"
            )
        inter.append(InterSpread(ccs[0], ccs[1], ilegs[0][3], ilegs[1][3], rates.get(r, 0.0)))
    per = span_requirement(commodities, inter)
    out: dict[str, dict[str, float]] = {}
    for cc, req in per.items():
        spread_risk = sum(s.risk for s in spreads_out if s.target == cc)
        risk = req.requirement + spread_risk
        out[cc] = {
            "scan_risk": req.scan_risk,
            "scanning_spread": spread_risk,
            "intra_charge": req.intra_charge,
            "inter_credit": req.inter_credit,
            "short_option_minimum": req.short_option_minimum,
            "risk": risk,
            "net_option_value": nov.get(cc, 0.0),
            "requirement": max(0.0, risk - nov.get(cc, 0.0)),
        }
    maintenance = sum(v["requirement"] for v in out.values())
    initial = 0.0
    for cc, v in out.items():
        factor = next((f for ri, base, f in span.commodities[cc].adj if base == r and ri != r), 1.0)
        initial += v["requirement"] * factor
    currencies = {span.commodities[cc].currency for cc in out}
    return SpanFileResult(
        maintenance, initial, out, spreads_out, sum(nov.values()), "/".join(sorted(currencies))
    )


def _tier(com: _Commodity, period: str) -> int:
    for k, (_, start, end) in enumerate(com.tiers):
        if (not start or period >= start) and (not end or period <= end):
            return k
    return 0
