"""Benchmark of the projected-Hessian engine (goldilocks_core.curvature).

One run, one workload: bias-free MLP 784-300-100-10 (LeNet-300-100, P = 266,200), N = 1,000
random inputs with labels, a d = 50 orthonormal basis, float32, torch.set_num_threads(2).

Timed (each the minimum over repeats, after a warm-up call):
  (a) the engine: one (α, T) point, and the 25-point α grid 10^(−3…3) at T = 1;
  (b) the authors' algorithm re-expressed as a reference: per grid point, the projected
      Jacobian by a per-sample, per-class backward loop (N·K passes) for the G-term and
      torch.autograd.functional.hessian(θ̂ ↦ ℓ(θ' + Rθ̂), vectorize=False) for H;
      a few grid points are timed and extrapolated to 25;
  (c) a plain loop of d double-backward Hessian-vector products for H alone;
  (d) one full-batch gradient — the unit.
Also: the engine's generic path (method="hvp", vmapped jvp-of-grad) against (c), and
the peak RSS of a decomposition over N = 60,000 Fashion-MNIST-shaped random inputs,
measured in a subprocess with resource.getrusage(RUSAGE_SELF).ru_maxrss.

The last line printed is one JSON object with the headline ratios.

    python benchmarks/bench_curvature.py [--quick] [--device cpu|cuda] [--threads 2]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import torch
from torch import nn

from goldilocks_core import models
from goldilocks_core.curvature import decompose, sweep
from goldilocks_core.functional import flat_parameters, logits_function
from goldilocks_core.curvature import alpha_grid
from goldilocks_core.subspace import random_basis

TARGETS = {
    "point_vs_hvp_loop": ("<=", 1.3),
    "sweep_point_vs_hvp_loop": ("<=", 1.1),
    "point_vs_gradient": ("<=", 75.0),
    "sweep_speedup_vs_reference": (">=", 20.0),
    "peak_rss_gb_60k": ("<=", 3.0),
}


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timeit(fn, device, repeats: int, warmup: int = 1) -> float:
    """Minimum wall time over ``repeats`` calls (robust to other jobs on shared cores)."""
    for _ in range(warmup):
        fn()
    _sync(device)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return best


def workload(n, d, device, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    model = models.lenet_300_100(generator=g, dtype=dtype).to(device)
    x = torch.rand(n, 784, generator=g, dtype=dtype).to(device)  # Fashion-MNIST-shaped pixels in [0, 1]
    y = torch.randint(0, 10, (n,), generator=g).to(device)
    basis = random_basis(models.num_parameters(model), d, generator=g, dtype=dtype, device=device)
    return model, x, y, basis


# -- (d) the unit ---------------------------------------------------------------------
def full_batch_gradient(model, x, y):
    model.zero_grad(set_to_none=True)
    nn.functional.cross_entropy(model(x), y).backward()


# -- (c) H alone by a loop of double-backward HVPs ------------------------------------
def hvp_loop(model, x, y, basis, alpha=1.0, temperature=1.0):
    f = logits_function(model)
    theta = (alpha * flat_parameters(model)).requires_grad_(True)
    loss = nn.functional.cross_entropy(f(theta, x) / temperature, y)
    (grad,) = torch.autograd.grad(loss, theta, create_graph=True)
    cols = []
    for j in range(basis.shape[1]):
        (hv,) = torch.autograd.grad(grad, theta, basis[:, j], retain_graph=True)
        cols.append(basis.T @ hv)
    return torch.stack(cols, 1)


def generic_h_term_vmapped(model, x, y, basis):
    """The generic path's H-term kernel alone: vmapped jvp of grad(s), s = Σ r·z."""
    from torch.func import grad, jvp, vmap

    f = logits_function(model)
    theta = flat_parameters(model)
    with torch.no_grad():
        r = torch.softmax(f(theta, x), -1) - nn.functional.one_hot(y, 10).to(x.dtype)
    gs = grad(lambda t: (r * f(t, x)).sum())
    return vmap(lambda v: jvp(gs, (theta,), (v,))[1])(basis.T.contiguous()) @ basis


def generic_h_term_loop(model, x, y, basis):
    f = logits_function(model)
    theta = flat_parameters(model).requires_grad_(True)
    with torch.no_grad():
        r = torch.softmax(f(theta, x), -1) - nn.functional.one_hot(y, 10).to(x.dtype)
    s = (r * f(theta, x)).sum()
    (grad,) = torch.autograd.grad(s, theta, create_graph=True)
    return torch.stack([basis.T @ torch.autograd.grad(grad, theta, basis[:, j], retain_graph=True)[0]
                        for j in range(basis.shape[1])], 1)


# -- (b) the authors' algorithm, re-expressed -------------------------------------------
def reference_point(model, x, y, basis, alpha, temperature, samples=None):
    """G-term from a per-sample, per-class backward loop; H from autograd.functional.hessian.

    With ``samples`` < N, the Jacobian loop runs over that many samples only (its time is
    linear in N and is extrapolated by the caller); the Hessian always uses all N.
    Returns (seconds for the Jacobian loop over the samples used, seconds for the Hessian).
    """
    f = logits_function(model)
    theta = alpha * flat_parameters(model)
    n = x.shape[0] if samples is None else samples
    device = x.device
    t0 = time.perf_counter()
    leaf = theta.clone().requires_grad_(True)
    rows = []
    for i in range(n):
        z = f(leaf, x[i:i + 1])[0]
        per_class = []
        for k in range(z.shape[0]):
            (gk,) = torch.autograd.grad(z[k], leaf, retain_graph=k < z.shape[0] - 1)
            per_class.append(gk @ basis)
        rows.append(torch.stack(per_class))
    JR = torch.stack(rows)  # (n, K, d)
    with torch.no_grad():
        p = torch.softmax(f(theta, x[:n]) / temperature, -1)
    A = torch.diag_embed(p) - p.unsqueeze(-1) * p.unsqueeze(-2)
    G = torch.einsum("nkd,nkc,nce->de", JR, A, JR) / (n * temperature**2)
    _sync(device)
    t_jac = time.perf_counter() - t0

    t0 = time.perf_counter()

    def loss_of_latent(theta_hat):
        return nn.functional.cross_entropy(f(theta + basis @ theta_hat, x) / temperature, y)

    H = torch.autograd.functional.hessian(loss_of_latent, torch.zeros(basis.shape[1], dtype=x.dtype, device=device),
                                          vectorize=False)
    _ = H - G  # the H-term, as the authors obtain it
    _sync(device)
    return t_jac, time.perf_counter() - t0


# -- the 60k peak-RSS child -------------------------------------------------------------
def rss_child(device_name: str, threads: int) -> None:
    torch.set_num_threads(threads)
    device = torch.device(device_name)
    model, x, y, basis = workload(60_000, 50, device)
    t0 = time.perf_counter()
    res = decompose(model, x, y, basis, dtype=torch.float32)
    _sync(device)
    seconds = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    out = {"peak_rss_gb": peak_kb * 1024 / 1e9, "seconds": seconds, "pc_hessian": res.pc_hessian}
    if device.type == "cuda":
        out["peak_cuda_gb"] = torch.cuda.max_memory_allocated(device) / 1e9
    print(json.dumps(out))


def measure_rss_60k(device: torch.device, threads: int, timeout: float) -> dict | None:
    cmd = [sys.executable, os.path.abspath(__file__), "--rss-child", "--device", str(device), "--threads", str(threads)]
    env = {**os.environ, "TQDM_DISABLE": "1"}
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        print(f"  60k child exceeded {timeout:.0f} s; peak RSS not measured")
        return None
    if done.returncode != 0:
        print(done.stderr[-2000:])
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}; {os.cpu_count()} logical CPUs; torch {torch.__version__}; {platform.system()}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="fewer repeats, one reference point, no 60k run (under 2 minutes on idle cores)")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--d", type=int, default=50)
    ap.add_argument("--skip-60k", action="store_true", help="report peak_rss_gb_60k as null")
    ap.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.rss_child:
        rss_child(args.device, args.threads)
        return 0

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda requested but CUDA is not available")
    repeats = 5 if args.quick else 7
    ref_points = 1 if args.quick else 3
    ref_samples = 50 if args.quick else None  # quick: Jacobian loop on 50 samples, extrapolated to N
    model, x, y, basis = workload(args.n, args.d, device)
    alphas = alpha_grid()
    load_before = os.getloadavg()[0]
    print(f"machine: {machine()}; device {device}; threads {args.threads}; load average {load_before:.1f}")
    print(f"workload: MLP 784-300-100-10 (P={models.num_parameters(model):,}), N={args.n}, d={args.d}, float32")

    class Rows(list):
        def append(self, row):  # echo each measurement as it is taken
            super().append(row)
            print(f"  {row[0]}: {row[1]:.4f} s", flush=True)

    rows = Rows()
    t_grad = timeit(lambda: full_batch_gradient(model, x, y), device, repeats * 3)
    rows.append(("(d) full-batch gradient", t_grad))
    t_point = timeit(lambda: decompose(model, x, y, basis, dtype=torch.float32), device, repeats)
    rows.append(("(a) engine, one point", t_point))
    t_sweep = timeit(lambda: sweep(model, x, y, basis, alphas=alphas, dtype=torch.float32, progress=False),
                     device, max(2, repeats // 2))
    rows.append(("(a) engine, 25-point α sweep", t_sweep))
    rows.append(("    per sweep point", t_sweep / len(alphas)))
    rows.append(("    per extra β (G-term + H-term, JR reused)", (t_sweep - t_point) / (len(alphas) - 1)))
    t_hvp = timeit(lambda: hvp_loop(model, x, y, basis), device, repeats)
    rows.append((f"(c) loop of {args.d} double-backward HVPs (H only)", t_hvp))
    t_generic = timeit(lambda: decompose(model, x, y, basis, dtype=torch.float32, method="hvp"), device,
                       max(2, repeats // 2))
    rows.append(("    engine, generic path (method='hvp'), one point", t_generic))
    t_gv = timeit(lambda: generic_h_term_vmapped(model, x, y, basis), device, max(2, repeats // 2))
    t_gl = timeit(lambda: generic_h_term_loop(model, x, y, basis), device, max(2, repeats // 2))
    rows.append(("    generic H-term kernel: vmapped jvp-of-grad", t_gv))
    rows.append(("    generic H-term kernel: loop of double-backward", t_gl))

    ref_alphas = [alphas[i] for i in (12, 0, 24)][:ref_points]
    jac, hes = [], []
    for a in ref_alphas:
        tj, th = reference_point(model, x, y, basis, a, 1.0, samples=ref_samples)
        jac.append(tj * (args.n / ref_samples if ref_samples else 1.0))
        hes.append(th)
    t_ref_point = (sum(jac) + sum(hes)) / len(ref_alphas)
    note = f"{len(ref_alphas)} point(s) timed" + (f", J loop on {ref_samples} samples ×{args.n // ref_samples}"
                                                  if ref_samples else "")
    rows.append((f"(b) reference, per point ({note})", t_ref_point))
    rows.append(("    of which per-sample/per-class Jacobian loop", sum(jac) / len(jac)))
    rows.append(("    of which autograd.functional.hessian(vectorize=False)", sum(hes) / len(hes)))
    rows.append(("(b) reference, 25 points (extrapolated)", 25 * t_ref_point))

    rss = None
    if args.quick:
        print("  --quick: the 60k peak-RSS measurement is skipped (null)")
    elif not args.skip_60k:
        rss = measure_rss_60k(device, args.threads, timeout=900)
    print(f"\nload average (1 min) at start {load_before:.1f}, at end {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} logical CPUs (other jobs share them: times are minima over repeats)")
    width = max(len(r[0]) for r in rows)
    print(f"{'what':{width}s}  {'seconds':>10s}  {'× gradient':>10s}")
    for name, sec in rows:
        print(f"{name:{width}s}  {sec:10.4f}  {sec / t_grad:10.1f}")
    if rss:
        extra = f", peak CUDA {rss['peak_cuda_gb']:.2f} GB" if "peak_cuda_gb" in rss else ""
        print(f"60k decomposition: {rss['seconds']:.1f} s, peak RSS {rss['peak_rss_gb']:.2f} GB{extra}")
    result = {
        "point_vs_hvp_loop": round(t_point / t_hvp, 4),
        "sweep_point_vs_hvp_loop": round(t_sweep / len(alphas) / t_hvp, 4),
        "point_vs_gradient": round(t_point / t_grad, 2),
        "sweep_speedup_vs_reference": round(25 * t_ref_point / t_sweep, 1),
        "peak_rss_gb_60k": round(rss["peak_rss_gb"], 3) if rss else None,
    }
    print()
    for key, (op, bound) in TARGETS.items():
        v = result[key]
        ok = None if v is None else (v <= bound if op == "<=" else v >= bound)
        print(f"target {key} {op} {bound}: {v} {'' if ok is None else ('met' if ok else 'MISSED')}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
