"""Regenerates the reference values of test_tail_precision.cpp (mpmath, 50 digits).

The inputs are the exact doubles the C++ test passes; run `python3 black_tail_mpmath.py`.
"""

import mpmath as mp

mp.mp.dps = 50


def b76(fwd, strike, t, vol, r, call):
    fwd, strike, t, vol, r = map(mp.mpf, (fwd, strike, t, vol, r))
    s = vol * mp.sqrt(t)
    d1 = mp.log(fwd / strike) / s + s / 2
    d2 = d1 - s
    th = 1 if call else -1
    return mp.exp(-r * t) * th * (fwd * mp.ncdf(th * d1) - strike * mp.ncdf(th * d2))


CASES = [
    (100, 1e4, 1.0, 0.2, 0.0, 1),
    (100, 400, 0.25, 0.1, 0.0, 1),
    (100, 1, 0.5, 0.3, 0.05, 0),
    (1, 1e-6, 1.0, 0.4, 0, 0),
    (100, 300, 1.0, 0.25, 0.0, 1),
    (100, 120, 1 / 365, 0.5, 0.0, 1),
    (100, 100.01, 1e-4, 0.3, 0, 1),
    (100, 99.99, 1e-6, 0.2, 0, 1),
    (100, 60, 0.02, 0.5, 0.01, 0),
    (100, 100, 1e-12, 0.3, 0, 1),
    (100, 150, 0.01, 0.3, 0, 1),
    (100, 10000, 1.0, 0.1245, 0.0, 1),
    (100, 10000, 1.0, 0.1225, 0.0, 1),
    (1e4, 100, 1.0, 0.1238, 0.0, 0),
]

for c in CASES:
    flag = "true" if c[5] else "false"
    print(f"{{{c[0]!r}, {c[1]!r}, {c[2]!r}, {c[3]!r}, {c[4]!r}, {flag}, {mp.nstr(b76(*c), 20)}}},")
