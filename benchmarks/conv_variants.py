"""Time ways of writing a 2-D convolution's forward + backward in NumPy, and PyTorch's conv2d.

Run: ``python benchmarks/conv_variants.py [--batch 64] [--repeat 7]``. Prints, per layer shape,
the best-of-``repeat`` time of forward, backward (dW, db and dx) and their sum for each variant,
and the ratio to PyTorch (``torch.set_num_threads(2)``) measured in the same run. Every variant
is first checked against the reference on the same data.
"""
from __future__ import annotations

import argparse
import time
from typing import Callable

import numpy as np

from barenet.nn.im2col import col2im, im2col, offset_slice, pad2d, unpad2d, windows

Shape = tuple[int, int, int, int, int, int, int]  # N, C, H, W, C_out, k, padding


# -- variants: each returns (forward, backward) closures over one layer's data -----------------
def _six_d_copy(xp, k, stride):
    win = windows(xp, k, stride)
    n, c, kh, kw, ho, wo = win.shape
    return win.reshape(n, c * kh * kw, ho * wo)


def im2col_batched(x, w, b, pad, build=im2col):
    """cols (N, CKK, P) by kH*kW strided copies; y = W2 @ cols (batched matmul, NCHW out)."""
    k = w.shape[2:]
    cache = {}

    def fwd():
        xp = pad2d(x, pad)
        cols = build(xp, k, (1, 1))
        cache.update(cols=cols, shape=xp.shape)
        ho, wo = xp.shape[2] - k[0] + 1, xp.shape[3] - k[1] + 1
        y = np.matmul(w.reshape(w.shape[0], -1), cols)
        y += b[:, None]
        return y.reshape(x.shape[0], w.shape[0], ho, wo)

    def bwd(g):
        g3 = g.reshape(g.shape[0], g.shape[1], -1)
        cols = cache["cols"]
        dw = np.matmul(g3, cols.transpose(0, 2, 1)).sum(axis=0).reshape(w.shape)
        db = g3.sum(axis=(0, 2))
        dcols = np.matmul(w.reshape(w.shape[0], -1).T, g3)
        dx = unpad2d(col2im(dcols, cache["shape"], k, (1, 1)), pad)
        return dx, dw, db
    return fwd, bwd


def im2col_6d_copy(x, w, b, pad):
    """Like im2col-batched but cols made by one reshape-copy of the 6-D window view."""
    return im2col_batched(x, w, b, pad, build=_six_d_copy)


def im2col_gemm(x, w, b, pad):
    """cols (CKK, N*P): one big GEMM per pass; output transposed back to NCHW with a copy."""
    k = w.shape[2:]
    cache = {}

    def fwd():
        xp = pad2d(x, pad)
        win = windows(xp, k, (1, 1))  # (N, C, kH, kW, Ho, Wo)
        n, c, kh, kw, ho, wo = win.shape
        cols = np.empty((c, kh, kw, n, ho, wo), dtype=x.dtype)
        for i in range(kh):
            for j in range(kw):
                cols[:, i, j] = win[:, :, i, j].transpose(1, 0, 2, 3)
        cols = cols.reshape(c * kh * kw, n * ho * wo)
        cache.update(cols=cols, shape=xp.shape, dims=(n, c, kh, kw, ho, wo))
        y = w.reshape(w.shape[0], -1) @ cols
        y += b[:, None]
        return np.ascontiguousarray(y.reshape(w.shape[0], n, ho, wo).transpose(1, 0, 2, 3))

    def bwd(g):
        n, c, kh, kw, ho, wo = cache["dims"]
        g2 = np.ascontiguousarray(g.transpose(1, 0, 2, 3)).reshape(g.shape[1], -1)
        dw = (g2 @ cache["cols"].T).reshape(w.shape)
        db = g2.sum(axis=1)
        dcols = (w.reshape(w.shape[0], -1).T @ g2).reshape(c, kh * kw, n, ho * wo)
        dcols = dcols.transpose(2, 0, 1, 3)
        dx = unpad2d(col2im(dcols, cache["shape"], k, (1, 1)), pad)
        return dx, dw, db
    return fwd, bwd


def tensordot_windows(x, w, b, pad):
    """as_strided windows + np.tensordot (which copies to 2-D internally)."""
    k = w.shape[2:]
    cache = {}

    def fwd():
        xp = pad2d(x, pad)
        win = windows(xp, k, (1, 1))
        cache.update(win=win, shape=xp.shape)
        y = np.tensordot(win, w, axes=([1, 2, 3], [1, 2, 3]))  # (N, Ho, Wo, C_out)
        y += b
        return np.ascontiguousarray(y.transpose(0, 3, 1, 2))

    def bwd(g):
        win = cache["win"]
        dw = np.tensordot(g, win, axes=([0, 2, 3], [0, 4, 5]))
        db = g.sum(axis=(0, 2, 3))
        dwin = np.tensordot(w, g, axes=([0], [1]))  # (C, kH, kW, N, Ho, Wo)
        dcols = dwin.transpose(3, 0, 1, 2, 4, 5)
        n = g.shape[0]
        dx = unpad2d(col2im(dcols.reshape(n, -1, g.shape[2] * g.shape[3]), cache["shape"], k,
                            (1, 1)), pad)
        return dx, dw, db
    return fwd, bwd


def einsum_windows(x, w, b, pad):
    """as_strided windows + np.einsum(optimize=True)."""
    k = w.shape[2:]
    cache = {}

    def fwd():
        xp = pad2d(x, pad)
        win = windows(xp, k, (1, 1))
        cache.update(win=win, shape=xp.shape)
        y = np.einsum("ncijyx,ocij->noyx", win, w, optimize=True)
        y += b[:, None, None]
        return y

    def bwd(g):
        win = cache["win"]
        dw = np.einsum("noyx,ncijyx->ocij", g, win, optimize=True)
        db = g.sum(axis=(0, 2, 3))
        dcols = np.einsum("ocij,noyx->ncijyx", w, g, optimize=True)
        n = g.shape[0]
        dx = unpad2d(col2im(np.ascontiguousarray(dcols).reshape(n, -1, g.shape[2] * g.shape[3]),
                            cache["shape"], k, (1, 1)), pad)
        return dx, dw, db
    return fwd, bwd


def shifted_gemm(x, w, b, pad):
    """No im2col: per kernel offset, W[:, :, i, j] @ a flat shifted view of the padded input.

    Works on the full padded width (Wp) and crops, wasting (kW-1)/Wp of the arithmetic.
    """
    kh, kw = w.shape[2:]
    cache = {}

    def fwd():
        xp = np.ascontiguousarray(pad2d(x, pad))
        n, c, hp, wp = xp.shape
        ho, wo = hp - kh + 1, wp - kw + 1
        length = (ho - 1) * wp + wo
        flat = xp.reshape(n, c, hp * wp)
        full = np.zeros((n, w.shape[0], ho * wp), dtype=x.dtype)
        for i in range(kh):
            for j in range(kw):
                off = i * wp + j
                full[:, :, :length] += np.matmul(w[:, :, i, j], flat[:, :, off:off + length])
        cache.update(flat=flat, dims=(n, c, hp, wp, ho, wo, length))
        y = full.reshape(n, -1, ho, wp)[:, :, :, :wo]
        return y + b[:, None, None]

    def bwd(g):
        n, c, hp, wp, ho, wo, length = cache["dims"]
        flat = cache["flat"]
        gf = np.zeros((n, g.shape[1], ho, wp), dtype=g.dtype)
        gf[:, :, :, :wo] = g
        gf = gf.reshape(n, g.shape[1], ho * wp)[:, :, :length]
        dw = np.empty_like(w)
        dxf = np.zeros((n, c, hp * wp), dtype=g.dtype)
        for i in range(kh):
            for j in range(kw):
                off = i * wp + j
                dw[:, :, i, j] = np.matmul(gf, flat[:, :, off:off + length].transpose(0, 2, 1)).sum(0)
                dxf[:, :, off:off + length] += np.matmul(w[:, :, i, j].T, gf)
        db = g.sum(axis=(0, 2, 3))
        return unpad2d(dxf.reshape(n, c, hp, wp), pad), dw, db
    return fwd, bwd


VARIANTS: dict[str, Callable] = {
    "im2col-batched": im2col_batched,
    "im2col-6d-copy": im2col_6d_copy,
    "im2col-gemm": im2col_gemm,
    "tensordot": tensordot_windows,
    "einsum": einsum_windows,
    "shifted-gemm": shifted_gemm,
}


def best_of(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def torch_time(x, w, b, pad, g, repeat):
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(2)
    xt = torch.from_numpy(x).requires_grad_(True)
    wt = torch.from_numpy(w).requires_grad_(True)
    bt = torch.from_numpy(b).requires_grad_(True)
    gt = torch.from_numpy(g)
    fwd = lambda: F.conv2d(xt, wt, bt, padding=pad)  # noqa: E731
    with torch.no_grad():
        tf = best_of(fwd, repeat)

    def both():
        xt.grad = wt.grad = bt.grad = None
        fwd().backward(gt)
    ref = F.conv2d(xt, wt, bt, padding=pad)
    return tf, best_of(both, repeat), ref.detach().numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    n = args.batch
    shapes: list[Shape] = [(n, 1, 28, 28, 32, 3, 0), (n, 32, 13, 13, 64, 3, 0),
                           (n, 1, 28, 28, 32, 3, 1), (n, 32, 14, 14, 64, 3, 1)]
    for (n, c, h, wd, co, k, p) in shapes:
        x = rng.standard_normal((n, c, h, wd)).astype(np.float32)
        w = (rng.standard_normal((co, c, k, k)) * 0.1).astype(np.float32)
        b = rng.standard_normal(co).astype(np.float32)
        ho, wo = h + 2 * p - k + 1, wd + 2 * p - k + 1
        g = rng.standard_normal((n, co, ho, wo)).astype(np.float32)
        try:
            tf, tt, ref = torch_time(x, w, b, p, g, args.repeat)
        except ImportError:
            tf = tt = float("nan")
            ref = None
        print(f"\nx ({n},{c},{h},{wd}) -> C_out {co}, kernel {k}, padding {p}   "
              f"[torch: fwd {tf*1e3:.2f} ms, fwd+bwd {tt*1e3:.2f} ms]")
        for name, make in VARIANTS.items():
            fwd, bwd = make(x, w, b, (p, p))
            y = fwd()
            if ref is not None and not np.allclose(y, ref, atol=1e-3):
                print(f"  {name:16s} WRONG forward")
                continue
            t_f = best_of(fwd, args.repeat)
            t_b = best_of(lambda: (fwd(), bwd(g)), args.repeat) - t_f
            print(f"  {name:16s} fwd {t_f*1e3:7.2f} ms  bwd {t_b*1e3:7.2f} ms  "
                  f"total {(t_f+t_b)*1e3:7.2f} ms  x torch {(t_f+t_b)/tt:5.2f}")


if __name__ == "__main__":
    main()
