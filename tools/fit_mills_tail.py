"""Chebyshev fit of the continued-fraction tail used by pymargin's normal-distribution helpers.

For a > 0 let Y(-a) = N(-a)/phi(a) (the Mills ratio) and c(a) = 1/Y(-a) - a, so that
Y(-a) = 1/(a + c) and Y'(-a) = 1 - a Y(-a) = c Y(-a): with c known, both follow without
cancellation. Laplace's continued fraction gives c = 1/(a + 2/(a + 3/(a + ...))) but needs
~160 terms near a = 2.5. This script fits g(u) = a c(a), u = 1/a on [1/40, 1/2.5], with a
degree-24 Chebyshev series computed by mpmath at 40 digits, checks it, and prints the C++
coefficient table pasted into cpp/src/pricing/normal_internal.hpp. Run: python3 fit_mills_tail.py
"""

import mpmath as mp
from chebyshev import chebyshev, cpp_table

mp.mp.dps = 40
LO, HI, DEG = mp.mpf(1) / 40, mp.mpf(1) / mp.mpf("2.5"), 24


def g(u):
    a = 1 / u
    y = mp.ncdf(-a) / mp.npdf(a)
    return a * (1 / y - a)


def main():
    coef, worst = chebyshev(g, LO, HI, DEG, checks=2000)
    print(f"// max relative error of the fit (exact arithmetic): {mp.nstr(worst, 3)}")
    print(cpp_table("kMillsTailCheb", coef))


if __name__ == "__main__":
    main()
