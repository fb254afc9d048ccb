"""Chebyshev fit of the Mills-ratio tail c(a) over the whole range a in [0, 40], for the
revaluation kernel's branch-free normal distribution (no erfc call).

With Y(-a) = N(-a)/phi(a) (the Mills ratio of a >= 0) and c(a) = 1/Y(-a) - a, this fits
g(u) = c(a) (a + K) in the mapped variable u = (a - K)/(a + K), which is analytic on the whole
interval (c(a) ~ 1/a at infinity), so one polynomial covers [0, 40] to below double rounding.
mpmath at 40 digits computes the Chebyshev interpolant and converts it exactly to monomials in
t = (2u - lo - hi)/(hi - lo) (the coefficients stay small, sum |a_k| = 3.6 for g between 1 and
3.2), so the kernel can evaluate it by Estrin's scheme (depth 5 instead of Horner's 26). The
script checks the fit, and the double-precision Estrin evaluation of the rounded table, against
mpmath on a fine grid and prints the C++ table pasted into cpp/src/pricing/normal_internal.hpp.
Run: python3 fit_mills_ratio.py
"""

import sys

import mpmath as mp
from chebyshev import chebyshev, cpp_table

mp.mp.dps = 40
KAPPA = mp.mpf(4)
A_MAX = mp.mpf(40)
DEG = 26


def g(u):
    a = KAPPA * (1 + u) / (1 - u)
    y = mp.ncdf(-a) / mp.npdf(a)
    return (1 / y - a) * (a + KAPPA)


def to_monomial(coef):
    """Exact (mpmath) coefficients of sum c_j T_j(t) in powers of t."""
    cheb = [[mp.mpf(1)], [mp.mpf(0), mp.mpf(1)]]
    for k in range(2, len(coef)):
        twice = [mp.mpf(0)] + [2 * x for x in cheb[k - 1]]
        prev = cheb[k - 2] + [mp.mpf(0)] * (len(twice) - len(cheb[k - 2]))
        cheb.append([x - y for x, y in zip(twice, prev)])
    mono = [mp.mpf(0)] * len(coef)
    for j, c in enumerate(coef):
        for k, v in enumerate(cheb[j]):
            mono[k] += c * v
    return mono


def estrin(table, t):
    """Estrin's scheme in double precision, in the order the C++ kernel uses."""
    c, x = list(table), t
    while len(c) > 1:
        if len(c) % 2:
            c.append(0.0)
        c = [c[2 * i] + c[2 * i + 1] * x for i in range(len(c) // 2)]
        x = x * x
    return c[0]


def main():
    deg = int(sys.argv[1]) if len(sys.argv) > 1 else DEG
    lo, hi = mp.mpf(-1), (A_MAX - KAPPA) / (A_MAX + KAPPA)
    coef, worst = chebyshev(g, lo, hi, deg, checks=2000)
    mono = to_monomial(coef)
    table = [float(x) for x in mono]
    worst_double = mp.mpf(0)
    for k in range(2001):
        u = lo + (hi - lo) * k / 2000
        t = float((2 * u - lo - hi) / (hi - lo))
        worst_double = max(worst_double, abs(estrin(table, t) / g(u) - 1))
    print(f"// u in [-1, {mp.nstr(hi, 17)}], kappa = {KAPPA}, t = (2u + 1 - hi)/(hi + 1)")
    print(f"// max relative error of the fit (exact arithmetic): {mp.nstr(worst, 3)}")
    print(f"// max relative error of the Estrin evaluation in double: {mp.nstr(worst_double, 3)}")
    print(cpp_table("kMillsRatioPoly", mono))


if __name__ == "__main__":
    main()
