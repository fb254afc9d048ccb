"""Shared helpers of the fitting scripts: Chebyshev series by mpmath, checked, printed as C++."""

import mpmath as mp


def chebyshev(fun, lo, hi, deg, checks=400):
    """Degree-`deg` Chebyshev interpolant of `fun` on [lo, hi] (coefficients c_0..c_deg for
    sum c_j T_j(t), t = (2v - lo - hi)/(hi - lo)) and its max relative error on a grid."""
    n = deg + 1
    nodes = [mp.cos(mp.pi * (k + mp.mpf(0.5)) / n) for k in range(n)]
    vals = [fun(lo + (hi - lo) * (x + 1) / 2) for x in nodes]
    coef = [
        2 * mp.fsum(vals[i] * mp.cos(mp.pi * j * (i + mp.mpf(0.5)) / n) for i in range(n)) / n
        for j in range(n)
    ]
    coef[0] /= 2
    worst = mp.mpf(0)
    for k in range(checks + 1):
        v = lo + (hi - lo) * k / checks
        t = (2 * v - (lo + hi)) / (hi - lo)
        approx = mp.fsum(c * mp.chebyt(j, t) for j, c in enumerate(coef))
        worst = max(worst, abs(approx / fun(v) - 1))
    return coef, worst


def cpp_table(name, coef):
    """The coefficients as a C++ constexpr array, 17 significant digits."""
    lines = [f"inline constexpr double {name}[{len(coef)}] = {{"]
    lines += [f"    {mp.nstr(c, 17, min_fixed=0, max_fixed=0)}," for c in coef]
    lines.append("};")
    return "\n".join(lines)
