"""Ways of writing a 2-D convolution's forward + backward in NumPy, timed against PyTorch.

Run: ``python benchmarks/conv_variants.py [--batch 64] [--repeat 9] [--steps 15 --blocks 5]``.

Part 1 times, at the default CNN's conv shapes, forward and backward (dW, db and dx) of each
variant, best of ``--repeat``, and PyTorch's ``conv2d`` forward + backward with
``torch.set_num_threads(--threads)``; each variant is first checked against PyTorch. Part 2
times one training step (forward, loss, backward, SGD) of the whole default ``cnn`` model in
barenet and the same network in PyTorch, alternating blocks of ``--steps`` steps so both see the
same machine load (with a pause between blocks: calling one library right after the other
makes their busy-waiting thread pools fight), and prints the ratio. NumPy's BLAS threads are set by the environment
(``OPENBLAS_NUM_THREADS=1 python benchmarks/conv_variants.py --threads 1`` compares one core).
"""
from __future__ import annotations

import argparse
import time
from typing import Callable

import numpy as np
from numpy.lib.stride_tricks import as_strided

from barenet import nn

# -- NCHW helpers for the variants that do not use barenet's (C, H, W, N) work layout -----------


def _pad(x, p):
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))) if p else x


def _windows(xp, k):
    """(N, C, kH, kW, Ho, Wo) read-only view of every window of a padded NCHW array."""
    n, c, h, w = xp.shape
    s = xp.strides
    return as_strided(xp, (n, c, k, k, h - k + 1, w - k + 1), s + s[2:], writeable=False)


def _col2im_nchw(dcols, padded_shape, k):
    """Sum (N, C, k, k, Ho, Wo) window gradients into a padded (N, C, Hp, Wp)."""
    n, c, hp, wp = padded_shape
    ho, wo = hp - k + 1, wp - k + 1
    out = np.zeros(padded_shape, dtype=dcols.dtype)
    for i in range(k):
        for j in range(k):
            out[:, :, i:i + ho, j:j + wo] += dcols[:, :, i, j]
    return out


def _unpad(x, p):
    return x[:, :, p:x.shape[2] - p, p:x.shape[3] - p] if p else x


# -- variants: each returns (forward, backward) closures over one layer's data ----------------
def barenet_chwn(x, w, b, p):
    """barenet's Conv2d: im2col on the (C, H, W, N) work layout, three large GEMMs."""
    conv = nn.Conv2d(w.shape[1], w.shape[0], w.shape[2], padding=p)
    conv.weight.data, conv.bias.data = w, b
    return (lambda: conv(x)), conv.backward


def nchw_batched(x, w, b, p, six_d_copy=False):
    """cols (N, C*k*k, Ho*Wo) per sample, one small GEMM per sample (batched matmul)."""
    k, co = w.shape[2], w.shape[0]
    w2 = w.reshape(co, -1)
    cache = {}

    def fwd():
        xp = _pad(x, p)
        win = _windows(xp, k)
        n, c, _, _, ho, wo = win.shape
        if six_d_copy:  # one reshape-copy of the 6-D view
            cols = win.reshape(n, c * k * k, ho * wo)
        else:           # one strided copy per kernel offset
            cols = np.empty(win.shape, dtype=x.dtype)
            for i in range(k):
                for j in range(k):
                    cols[:, :, i, j] = win[:, :, i, j]
            cols = cols.reshape(n, c * k * k, ho * wo)
        cache.update(cols=cols, shape=xp.shape)
        return (np.matmul(w2, cols) + b[:, None]).reshape(n, co, ho, wo)

    def bwd(g):
        g3 = g.reshape(g.shape[0], co, -1)
        dw = np.matmul(g3, cache["cols"].transpose(0, 2, 1)).sum(axis=0)
        db = g3.sum(axis=(0, 2))
        n, c = x.shape[:2]
        dcols = np.matmul(w2.T, g3).reshape(n, c, k, k, g.shape[2], g.shape[3])
        return _unpad(_col2im_nchw(dcols, cache["shape"], k), p), dw, db
    return fwd, bwd


def nchw_gemm(x, w, b, p):
    """cols (C*k*k, N*Ho*Wo) from NCHW: one big GEMM, then a transposing copy back to NCHW."""
    k, co = w.shape[2], w.shape[0]
    w2 = w.reshape(co, -1)
    cache = {}

    def fwd():
        xp = _pad(x, p)
        win = _windows(xp, k)
        n, c, _, _, ho, wo = win.shape
        cols = np.ascontiguousarray(win.transpose(1, 2, 3, 0, 4, 5)).reshape(c * k * k, -1)
        cache.update(cols=cols, shape=xp.shape)
        y = w2 @ cols + b[:, None]
        return np.ascontiguousarray(y.reshape(co, n, ho, wo).transpose(1, 0, 2, 3))

    def bwd(g):
        g2 = np.ascontiguousarray(g.transpose(1, 0, 2, 3)).reshape(co, -1)
        dw, db = g2 @ cache["cols"].T, g2.sum(axis=1)
        n, c = x.shape[:2]
        dcols = (w2.T @ g2).reshape(c, k, k, n, g.shape[2], g.shape[3]).transpose(3, 0, 1, 2, 4, 5)
        return _unpad(_col2im_nchw(dcols, cache["shape"], k), p), dw, db
    return fwd, bwd


def tensordot_windows(x, w, b, p):
    """as_strided windows + np.tensordot (which copies to 2-D internally)."""
    k = w.shape[2]
    cache = {}

    def fwd():
        xp = _pad(x, p)
        cache.update(win=_windows(xp, k), shape=xp.shape)
        y = np.tensordot(cache["win"], w, axes=([1, 2, 3], [1, 2, 3])) + b  # (N, Ho, Wo, C_out)
        return np.ascontiguousarray(y.transpose(0, 3, 1, 2))

    def bwd(g):
        dw = np.tensordot(g, cache["win"], axes=([0, 2, 3], [0, 4, 5]))
        dcols = np.tensordot(g, w, axes=([1], [0])).transpose(0, 3, 4, 5, 1, 2)
        return _unpad(_col2im_nchw(dcols, cache["shape"], k), p), dw, g.sum(axis=(0, 2, 3))
    return fwd, bwd


def einsum_windows(x, w, b, p):
    """as_strided windows + np.einsum(optimize=True)."""
    k = w.shape[2]
    cache = {}

    def fwd():
        xp = _pad(x, p)
        cache.update(win=_windows(xp, k), shape=xp.shape)
        return np.einsum("ncijyx,ocij->noyx", cache["win"], w, optimize=True) + b[:, None, None]

    def bwd(g):
        dw = np.einsum("noyx,ncijyx->ocij", g, cache["win"], optimize=True)
        dcols = np.einsum("ocij,noyx->ncijyx", w, g, optimize=True)
        return _unpad(_col2im_nchw(dcols, cache["shape"], k), p), dw, g.sum(axis=(0, 2, 3))
    return fwd, bwd


def shifted_gemm(x, w, b, p):
    """No im2col: per kernel offset, W[:, :, i, j] @ a flat shifted view of the padded input,
    on the full padded width (wasting (k-1)/Wp of the arithmetic), cropped at the end."""
    k, co = w.shape[2], w.shape[0]
    cache = {}

    def fwd():
        xp = np.ascontiguousarray(_pad(x, p))
        n, c, hp, wp = xp.shape
        ho, wo = hp - k + 1, wp - k + 1
        length = (ho - 1) * wp + wo
        flat = xp.reshape(n, c, hp * wp)
        full = np.zeros((n, co, ho * wp), dtype=x.dtype)
        for i in range(k):
            for j in range(k):
                off = i * wp + j
                full[:, :, :length] += np.matmul(w[:, :, i, j], flat[:, :, off:off + length])
        cache.update(flat=flat, dims=(n, c, hp, wp, ho, wo, length))
        return full.reshape(n, co, ho, wp)[:, :, :, :wo] + b[:, None, None]

    def bwd(g):
        n, c, hp, wp, ho, wo, length = cache["dims"]
        gf = np.zeros((n, co, ho, wp), dtype=g.dtype)
        gf[:, :, :, :wo] = g
        gf = gf.reshape(n, co, ho * wp)[:, :, :length]
        dw = np.empty_like(w)
        dxf = np.zeros((n, c, hp * wp), dtype=g.dtype)
        for i in range(k):
            for j in range(k):
                sl = cache["flat"][:, :, i * wp + j:i * wp + j + length]
                dw[:, :, i, j] = np.matmul(gf, sl.transpose(0, 2, 1)).sum(0)
                dxf[:, :, i * wp + j:i * wp + j + length] += np.matmul(w[:, :, i, j].T, gf)
        return _unpad(dxf.reshape(n, c, hp, wp), p), dw, g.sum(axis=(0, 2, 3))
    return fwd, bwd


VARIANTS: dict[str, Callable] = {
    "barenet (CHWN im2col)": barenet_chwn,
    "NCHW batched GEMMs": nchw_batched,
    "NCHW 6-D reshape copy": lambda *a: nchw_batched(*a, six_d_copy=True),
    "NCHW one GEMM": nchw_gemm,
    "tensordot": tensordot_windows,
    "einsum": einsum_windows,
    "shifted GEMMs": shifted_gemm,
}


def best_of(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def layer_variants(args, torch) -> None:
    import torch.nn.functional as F
    rng = np.random.default_rng(0)
    n = args.batch
    for (c, h, co, p) in [(1, 28, 32, 0), (32, 13, 64, 0), (32, 14, 64, 1)]:
        x = rng.standard_normal((n, c, h, h)).astype(np.float32)
        w = (rng.standard_normal((co, c, 3, 3)) * 0.1).astype(np.float32)
        b = rng.standard_normal(co).astype(np.float32)
        ho = h + 2 * p - 2
        g = rng.standard_normal((n, co, ho, ho)).astype(np.float32)
        xt, wt, bt = (torch.from_numpy(a).requires_grad_(True) for a in (x, w, b))

        def torch_both():
            xt.grad = wt.grad = bt.grad = None
            F.conv2d(xt, wt, bt, padding=p).backward(torch.from_numpy(g))
        ref = F.conv2d(xt, wt, bt, padding=p).detach().numpy()
        t_torch = best_of(torch_both, args.repeat)
        print(f"\nconv {c}->{co}, 3x3, padding {p}, input ({n}, {c}, {h}, {h}): "
              f"torch fwd+bwd {t_torch * 1e3:.2f} ms")
        for name, make in VARIANTS.items():
            fwd, bwd = make(x, w, b, p)
            if not np.allclose(fwd(), ref, atol=1e-3):
                print(f"  {name:22s} WRONG forward")
                continue
            t_f = best_of(fwd, args.repeat)
            t_fb = best_of(lambda: bwd(fwd()), args.repeat)
            print(f"  {name:22s} fwd {t_f * 1e3:7.2f} ms  fwd+bwd {t_fb * 1e3:7.2f} ms  "
                  f"x torch {t_fb / t_torch:5.2f}")


def model_step(args, torch) -> None:
    from barenet.models.cnn import CNN_MODELS
    from barenet.optim import SGD
    entry = CNN_MODELS["cnn"]
    model = entry["build"]({"name": "cnn", **entry["defaults"]}, np.random.default_rng(0))
    tn = torch.nn
    ref = tn.Sequential(tn.Conv2d(1, 32, 3), tn.MaxPool2d(2), tn.ReLU(), tn.Conv2d(32, 64, 3),
                        tn.MaxPool2d(2), tn.ReLU(), tn.Flatten(), tn.Dropout(0.25),
                        tn.Linear(1600, 128), tn.ReLU(), tn.Dropout(0.25), tn.Linear(128, 10))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, args.batch)
    crit, opt = nn.CrossEntropyLoss(), SGD(model.parameters(), lr=0.01, momentum=0.9)
    tcrit, topt = tn.CrossEntropyLoss(), torch.optim.SGD(ref.parameters(), lr=0.01, momentum=0.9)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def ours():  # like PyTorch, no gradient for the input images
        crit(model(x), y)
        opt.zero_grad()
        model.backward_params_only(crit.backward())
        opt.step()

    def theirs():
        loss = tcrit(ref(xt), yt)
        topt.zero_grad()
        loss.backward()
        topt.step()

    medians: dict[str, list[float]] = {"barenet": [], "torch": []}
    for _ in range(args.blocks):
        for name, step in (("barenet", ours), ("torch", theirs)):
            # Let the other library's idle worker threads stop spinning first: OpenBLAS and
            # OpenMP threads busy-wait after a call, and would slow down the next library.
            time.sleep(0.3)
            step()
            times = []
            for _ in range(args.steps):
                t0 = time.perf_counter()
                step()
                times.append(time.perf_counter() - t0)
            medians[name].append(float(np.median(times)))
    a, b = np.array(medians["barenet"]), np.array(medians["torch"])
    print(f"\nwhole 'cnn' training step, batch {args.batch} (median per block, ms):")
    print(f"  barenet {np.round(a * 1e3, 1)}\n  torch   {np.round(b * 1e3, 1)}")
    print(f"  best block: barenet {a.min() * 1e3:.1f} ms, torch {b.min() * 1e3:.1f} ms, "
          f"ratio {a.min() / b.min():.2f}; median of per-block ratios {np.median(a / b):.2f}; "
          f"epoch of 60k at the best block: barenet {a.min() * 60000 / args.batch:.1f} s, "
          f"torch {b.min() * 60000 / args.batch:.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=9, help="best of this many, per layer timing")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--steps", type=int, default=15, help="training steps per timed block")
    ap.add_argument("--blocks", type=int, default=5, help="alternating blocks per library")
    ap.add_argument("--skip-layers", action="store_true", help="only the whole-model step")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    if not args.skip_layers:
        layer_variants(args, torch)
    model_step(args, torch)


if __name__ == "__main__":
    main()
