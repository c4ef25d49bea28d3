"""Independent spectral reference for PFHub benchmark 1 at short times (numpy/scipy only; host or image).

    dc/dt = M lap(f'(c) - kappa lap c),  f = rho (c - ca)^2 (cb - c)^2,
    F = int f(c) + kappa/2 |grad c|^2 dA        (Jokisaari et al., Comput. Mater. Sci. 126 (2017) 139)

* 1a (periodic 200 x 200): Fourier collocation on the nodes x_i = i h (h = 200/N, the nodes of a
  periodic FE mesh with N cells per side), FFT.
* 1b (no-flux): cosine expansion on the cell centres x_i = (i + 1/2) h (DCT-II, which satisfies
  dc/dn = 0 and d(mu)/dn = 0 term by term).

Time stepping: second-order semi-implicit backward differentiation (SBDF2; Ascher, Ruuth & Wetton,
SIAM J. Numer. Anal. 32 (1995) 797): the stiff kappa lap^2 term implicit, f'(c) extrapolated,
    (3 c^{n+1} - 4 c^n + c^{n-1}) / (2 dt) = -M k^2 [2 f'(c^n) - f'(c^{n-1})]^ - M kappa k^4 c^{n+1},
started by one first-order step split into 16 substeps.  F is evaluated spectrally
(Parseval for the gradient term).  Convergence is shown by the run itself: ``--check`` repeats
with dt/2 and with 2N and prints the relative changes of F at the output times.

    python3 tests/bench/pfhub1_spectral.py --variant 1b --n 256 --dt 0.002 --t-end 20 --check
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import scipy.fft as sfft

PF = dict(L=200.0, rho=5.0, ca=0.3, cb=0.7, kappa=2.0, M=5.0, c0=0.5, eps=0.01)
TIMES = [1, 5, 10, 20, 50, 100]


def solve(variant: str, n: int, dt: float, t_end: float, times=TIMES):
    L, rho, ca, cb, kappa, M = (PF[k] for k in ("L", "rho", "ca", "cb", "kappa", "M"))
    h = L / n
    if variant == "1a":
        x = np.arange(n) * h
        k1 = 2 * np.pi * sfft.fftfreq(n, d=h)
        fwd = lambda u: sfft.fft2(u)  # noqa: E731
        inv = lambda u: sfft.ifft2(u).real  # noqa: E731
        norm = 1.0 / n**2  # sum |u|^2 = norm * sum |u_hat|^2
    else:
        x = (np.arange(n) + 0.5) * h
        k1 = np.pi * np.arange(n) / L
        fwd = lambda u: sfft.dctn(u, type=2, norm="ortho")  # noqa: E731
        inv = lambda u: sfft.idctn(u, type=2, norm="ortho")  # noqa: E731
        norm = 1.0
    X, Y = np.meshgrid(x, x, indexing="ij")
    k2 = k1[:, None] ** 2 + k1[None, :] ** 2
    c = PF["c0"] + PF["eps"] * (np.cos(0.105 * X) * np.cos(0.11 * Y) + (np.cos(0.13 * X) * np.cos(0.087 * Y)) ** 2
                                + np.cos(0.025 * X - 0.15 * Y) * np.cos(0.07 * X - 0.02 * Y))
    fp = lambda u: 2 * rho * (u - ca) * (cb - u) * (ca + cb - 2 * u)  # noqa: E731

    def energy(u, uh):
        bulk = np.sum(rho * (u - ca) ** 2 * (cb - u) ** 2) * h * h
        grad = 0.5 * kappa * np.sum(k2 * np.abs(uh) ** 2) * norm * h * h
        return float(bulk + grad)

    times = [t for t in times if t < t_end] + [t_end]
    ch = fwd(c)
    F = {0.0: energy(c, ch)}
    # first step: 16 backward-Euler IMEX substeps of dt/16
    sub = dt / 16
    ch_old = ch
    for _ in range(16):
        ch = (ch - sub * M * k2 * fwd(fp(c))) / (1 + sub * M * kappa * k2**2)
        c = inv(ch)
    t, k = dt, 0
    fp_old, fp_now = fwd(fp(inv(ch_old))), fwd(fp(c))
    nsteps = int(round(t_end / dt))
    assert abs(nsteps * dt - t_end) < 1e-9 * t_end, "t_end must be a multiple of dt"
    out_steps = {int(round(tt / dt)): tt for tt in times}
    assert all(abs(s * dt - tt) < 1e-9 * tt for s, tt in out_steps.items()), "output times must be multiples of dt"
    if 1 in out_steps:
        F[float(out_steps[1])] = energy(c, ch)
    denom = 3 + 2 * dt * M * kappa * k2**2
    for step in range(2, nsteps + 1):
        rhs = 4 * ch - ch_old - 2 * dt * M * k2 * (2 * fp_now - fp_old)
        ch_old, ch = ch, rhs / denom
        c = inv(ch)
        fp_old, fp_now = fp_now, fwd(fp(c))
        if step in out_steps:
            F[float(out_steps[step])] = energy(c, ch)
    return F


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", choices=("1a", "1b"), default="1b")
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--dt", type=float, default=0.002)
    ap.add_argument("--t-end", type=float, default=20.0)
    ap.add_argument("--check", action="store_true", help="also dt/2 and 2N: convergence of F")
    ap.add_argument("--out", default="results/bench")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    runs = {"base": (a.n, a.dt)}
    if a.check:
        runs.update({"dt/2": (a.n, a.dt / 2), "2N": (2 * a.n, a.dt)})
    res = {}
    for name, (n, dt) in runs.items():
        res[name] = solve(a.variant, n, dt, a.t_end)
        print(f"{name}: N = {n}, dt = {dt:g}: " + ", ".join(f"F({t:g}) = {v:.5f}" for t, v in res[name].items()),
              flush=True)
    if a.check:
        for name in ("dt/2", "2N"):
            print(f"rel change {name}: " + ", ".join(f"t={t:g}: {res[name][t] / v - 1:+.1e}"
                                                   for t, v in res["base"].items() if t > 0))
    best = res.get("dt/2", res["base"])
    info = dict(variant=a.variant, n=a.n, dt=a.dt, t_end=a.t_end, F={str(t): v for t, v in best.items()},
                runs={k: {str(t): v for t, v in r.items()} for k, r in res.items()}, wall_s=time.perf_counter() - t0)
    Path(a.out).mkdir(parents=True, exist_ok=True)
    p = Path(a.out) / f"pfhub{a.variant}_spectral.json"
    p.write_text(json.dumps(info, indent=1))
    print("->", p)


if __name__ == "__main__":
    main()
