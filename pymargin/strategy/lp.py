# SPDX-License-Identifier: Apache-2.0
"""Convex piecewise-linear functions and the linear programmes over them: affine pieces
(:class:`Pieces`), their maxima (:class:`MaxOf`) and weighted sums (:class:`SumOf`); an
accumulator of ``A_ub v <= b_ub`` blocks over decision and auxiliary variables
(:class:`LinearProgram`); scipy (HiGHS) loaded on demand with a clear error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..extras import optional

__all__ = [
    "LinearProgram",
    "MaxOf",
    "Node",
    "Pieces",
    "SumOf",
    "abs_pieces",
    "evaluate",
    "scipy_module",
    "zero_floor",
]


# --- convex piecewise-linear functions ---------------------------------------------------------


@dataclass(frozen=True)
class Pieces:
    """max over rows r of ``const[r] + grad[r] @ x`` (a block of affine pieces)."""

    const: np.ndarray
    grad: np.ndarray


@dataclass(frozen=True)
class MaxOf:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class SumOf:
    """sum of ``weights[k] * parts[k]``, weights >= 0 (keeps the function convex)."""

    parts: tuple[Node, ...]
    weights: tuple[float, ...]


Node = Pieces | MaxOf | SumOf


def evaluate(node: Node, x: np.ndarray) -> float:
    """The function's value at ``x``."""
    if isinstance(node, Pieces):
        return float(np.max(node.const + node.grad @ x))
    if isinstance(node, MaxOf):
        return max(evaluate(p, x) for p in node.parts)
    return float(sum(w * evaluate(p, x) for p, w in zip(node.parts, node.weights)))


def abs_pieces(const: float, grad: np.ndarray) -> Pieces:
    return Pieces(np.array([const, -const]), np.stack([grad, -grad]))


def zero_floor(n: int) -> Pieces:
    return Pieces(np.zeros(1), np.zeros((1, n)))


def scipy_module(module: str = "optimize") -> Any:
    """scipy's ``optimize`` or ``sparse`` (HiGHS comes with scipy), or a MissingDependencyError
    naming the extra to install."""
    return optional(f"scipy.{module}", "optimize")


class LinearProgram:
    """Accumulates ``A_ub v <= b_ub`` over variables ``v = (vars, aux)``."""

    def __init__(self, n_vars: int) -> None:
        self.n_vars = n_vars
        self.n_aux = 0
        self.blocks: list[tuple[np.ndarray, list[dict[int, float]], np.ndarray]] = []

    def aux(self) -> int:
        self.n_aux += 1
        return self.n_aux - 1

    def add(self, g: np.ndarray, aux: list[dict[int, float]], rhs: np.ndarray) -> None:
        self.blocks.append((np.atleast_2d(g), aux, np.atleast_1d(rhs)))

    def lin(self, node: Node, t: np.ndarray) -> tuple[float, np.ndarray, dict[int, float]]:
        """The node as a linear form (constant, coefficients on vars, on aux) whose minimum
        over the added constraints equals the node; ``t`` maps vars to the node's x."""
        if isinstance(node, Pieces):
            if len(node.const) == 1:
                return float(node.const[0]), node.grad[0] @ t, {}
            z = self.aux()
            self.add(node.grad @ t, [{z: -1.0}] * len(node.const), -node.const)
            return 0.0, np.zeros(self.n_vars), {z: 1.0}
        if isinstance(node, MaxOf):
            z = self.aux()
            for part in node.parts:
                if isinstance(part, Pieces):
                    self.add(part.grad @ t, [{z: -1.0}] * len(part.const), -part.const)
                    continue
                c, g, a = self.lin(part, t)
                a = dict(a)
                a[z] = a.get(z, 0.0) - 1.0
                self.add(g, [a], np.array([-c]))
            return 0.0, np.zeros(self.n_vars), {z: 1.0}
        const, g, a = 0.0, np.zeros(self.n_vars), {}
        for part, w in zip(node.parts, node.weights):
            c1, g1, a1 = self.lin(part, t)
            const += w * c1
            g = g + w * g1
            for k, v in a1.items():
                a[k] = a.get(k, 0.0) + w * v
        return const, g, a

    def matrices(self) -> tuple[Any, np.ndarray]:
        sp = scipy_module("sparse")
        n = self.n_vars + self.n_aux
        parts, rhs = [], []
        for g, aux, b in self.blocks:
            m = g.shape[0]
            dense = sp.csr_matrix(np.hstack([g, np.zeros((m, self.n_aux))]))
            r, c, v = [], [], []
            for i, d in enumerate(aux):
                for k, val in d.items():
                    r.append(i)
                    c.append(self.n_vars + k)
                    v.append(val)
            parts.append(dense + sp.csr_matrix((v, (r, c)), shape=(m, n)))
            rhs.append(b)
        if not parts:
            return sp.csr_matrix((0, n)), np.zeros(0)
        return sp.vstack(parts).tocsr(), np.concatenate(rhs)

    def objective(self, g: np.ndarray, a: dict[int, float]) -> np.ndarray:
        c = np.zeros(self.n_vars + self.n_aux)
        c[: self.n_vars] = g
        for k, v in a.items():
            c[self.n_vars + k] += v
        return c


# --- the models as programmes -------------------------------------------------------------------
