#!/usr/bin/env python3
"""Cross-check of our Eq. (1) fit with scipy's L-BFGS-B and random restarts.

Usage: python3 scripts/scipy_eq1.py DATA.json [--restarts 500] [--seed 0]
DATA.json: {"S-Base": {"N": [...], "E": [...], "loss": [...]}, ...} (bench/fit.ts writes it).
Objective: mean squared error of log10 L (the authors'), Eq. (1)
  log L = a log N + b log Ehat + c log N log Ehat + d,
  1/Ehat = 1/(E - 1 + (1/E_start - 1/E_max)^-1) + 1/E_max,
parameters [a, b, c, d, log2 E_start, v] with log2 E_max = log2 E_start + softplus(v) (E_start <
E_max always, the same parameterisation as our joint optimiser), analytic gradient.
Two settings: scipy's default tolerances, and tight ones (ftol 1e-15, gtol 1e-12).
Prints one JSON object: per technique and setting, the best MSE, its parameters and the seconds.
"""
import json
import sys
import time

import numpy as np
from scipy.optimize import minimize

LN2, LN10 = np.log(2.0), np.log(10.0)


def softplus(v):
    return np.logaddexp(0.0, v)


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def make_objective(N, E, loss):
    lN = np.log10(N)
    y = np.log10(loss)
    n = len(y)

    def fg(th):
        a, b, c, d, ls, v = th
        lm = ls + softplus(v)
        if not (-50 < ls < 50 and lm < 200):
            return 1e10, np.zeros(6)
        s, m = 2.0**ls, 2.0**lm
        q = 1.0 / s - 1.0 / m
        if not q > 0:
            return 1e10, np.zeros(6)
        K = 1.0 / q
        D = E - 1.0 + K
        h = 1.0 / D + 1.0 / m
        l2 = -np.log10(h)
        dhdK = -1.0 / (D * D)
        cc = -1.0 / (h * LN10)
        d2s = cc * dhdK * (K * K * LN2 / s)
        d2m = cc * (dhdK * (-K * K * LN2 / m) - LN2 / m)
        r = a * lN + b * l2 + c * lN * l2 + d - y
        f = np.dot(r, r) / n
        p = 2.0 * r / n
        k = p * (b + c * lN)
        g = np.array([
            np.dot(p, lN), np.dot(p, l2), np.dot(p, lN * l2), p.sum(),
            np.dot(k, d2s + d2m), np.dot(k, d2m) * sigmoid(v),
        ])
        return f, g

    return fg


def inv_softplus(g):
    return g if g > 30 else np.log(np.expm1(g))


def fit(N, E, loss, restarts, seed, options):
    fg = make_objective(np.asarray(N, float), np.asarray(E, float), np.asarray(loss, float))
    rng = np.random.default_rng(seed)
    best = None
    t0 = time.perf_counter()
    nit = 0
    for _ in range(restarts):
        ls = rng.uniform(-2, 6)
        x0 = np.array([
            rng.uniform(-0.2, 0.0), rng.uniform(-0.3, 0.0), rng.uniform(0.0, 0.03),
            rng.uniform(0.5, 1.5), ls, inv_softplus(rng.uniform(0.05, 12)),
        ])
        res = minimize(fg, x0, jac=True, method="L-BFGS-B", options=options)
        nit += res.nit
        if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
            best = res
    secs = time.perf_counter() - t0
    a, b, c, d, ls, v = best.x
    return {
        "mse_log10": float(best.fun),
        "seconds": secs,
        "iterations_total": int(nit),
        "success": bool(best.success),
        "message": str(best.message),
        "params": {"a": a, "b": b, "c": c, "d": d, "E_start": 2.0**ls,
                   "E_max": 2.0**(ls + softplus(v))},
    }


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit("usage: python3 scripts/scipy_eq1.py DATA.json [--restarts 500] [--seed 0]")
    path = args[0]
    restarts = int(args[args.index("--restarts") + 1]) if "--restarts" in args else 500
    seed = int(args[args.index("--seed") + 1]) if "--seed" in args else 0
    with open(path) as fh:
        data = json.load(fh)
    settings = {
        "default": {"maxiter": 15000},
        "tight": {"maxiter": 15000, "ftol": 1e-15, "gtol": 1e-12, "maxls": 50},
    }
    out = {}
    for tech, d in data.items():
        out[tech] = {name: fit(d["N"], d["E"], d["loss"], restarts, seed, opt)
                     for name, opt in settings.items()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
