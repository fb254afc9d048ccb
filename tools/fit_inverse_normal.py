"""Chebyshev starting approximations of the inverse normal cdf for p <= 1/2, used by the
implied-volatility solver (cpp/src/pricing/inverse_normal_internal.hpp), which then takes one
Halley step on the exact cdf.

* central, p in [0.1, 0.5]: z(p)/q as a function of q^2, q = p - 1/2 (degree 12);
* tail, p in [~1e-314, 0.1]: z/r as a function of u = 1/r, r = sqrt(-2 ln p) (degree 16).

Coefficients are computed by mpmath at 40 digits; the script prints the fit errors and the C++
tables. Run: python3 fit_inverse_normal.py
"""

import mpmath as mp
from chebyshev import chebyshev, cpp_table

mp.mp.dps = 40


def z_of_p(p):
    return -mp.sqrt(2) * mp.erfinv(1 - 2 * p)


def z_of_r(r):
    """Solves N(z) = exp(-r^2/2) in log space (p can be far below the double range)."""
    guess = -mp.sqrt(max(r * r - mp.log(r * r) - mp.log(2 * mp.pi), mp.mpf("0.01")))
    return mp.findroot(lambda z: mp.log(mp.ncdf(z)) + r * r / 2, guess)


def main():
    central, e1 = chebyshev(
        lambda q2: (
            z_of_p(mp.mpf(0.5) - mp.sqrt(q2)) / (-mp.sqrt(q2)) if q2 > 0 else mp.sqrt(2 * mp.pi)
        ),
        mp.mpf(0),
        mp.mpf("0.16"),
        12,
    )
    u_lo, u_hi = 1 / mp.mpf(38.6), 1 / mp.mpf("2.1459660262893472")  # r from 2.146 to 38.6
    tail, e2 = chebyshev(lambda u: z_of_r(1 / u) * u, u_lo, u_hi, 16)
    print(f"// central fit: max relative error {mp.nstr(e1, 3)}; tail fit: {mp.nstr(e2, 3)}")
    print(f"inline constexpr double kInvNormTailULo = {mp.nstr(u_lo, 17)};")
    print(f"inline constexpr double kInvNormTailUHi = {mp.nstr(u_hi, 17)};")
    print(cpp_table("kInvNormCentral", central))
    print(cpp_table("kInvNormTail", tail))


if __name__ == "__main__":
    main()
