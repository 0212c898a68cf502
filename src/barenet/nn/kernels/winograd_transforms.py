"""The transforms of Winograd's F(2x2, 3x3) and their adjoints, as adds of whole arrays.

One 2x2 tile of output is ``Y = A^T [(G g G^T) * (B^T d B)] A`` for the 4x4 tile ``d`` of
input under it (tiles overlap by 2, stride 2), the 3x3 filter ``g`` and ``*`` the element-wise
product (``docs/winograd.md`` derives the matrices):

    B^T = [[1, 0, -1, 0],    G = [[1,    0,   0],     A^T = [[1, 1,  1,  0],
           [0, 1,  1, 0],         [1/2,  1/2, 1/2],          [0, 1, -1, -1]]
           [0, -1, 1, 0],         [1/2, -1/2, 1/2],
           [0, 1,  0, -1]]        [0,    0,   1]]

**Layout.** NumPy adds two arrays at memory speed when each is one contiguous run; every
further run costs about 1 us (an add of 960 rows of 1,792 numbers took 4x as long as a
contiguous one; a strided *copy* does not pay this). So the padded input is split once by the
parity of its rows and columns (``split_grid``, a strided copy): ``x4[cp, rp, c, t, u, n]`` is
pixel (2t + rp, 2u + cp) of channel c, sample n. In each of the four quarters the pixel one
tile to the right is N numbers further, and the one a tile below (tw + 1) N numbers further,
so every step of a transform is an add of two flat views, one shifted. The shift runs past
the last tile column and row into junk, which is never used: arrays carry one junk tile row
and column. Shapes (C channels, th x tw tiles, N the batch): ``x4`` (2, 2, C, th + 1, tw + 1,
N); ``v`` (4, 4, C, th + 1, tw + 1, N) and ``m`` (4, 4, C, rows, tw + 1, N), entry [i, j]
holding tile position (i, j); the 16 matrix products then each take one (C, tiles*N) matrix.
"""
from __future__ import annotations

import numpy as np

BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=np.float64)
AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.float64)


def _span(pad: int, size: int, parity: int) -> tuple[int, int]:
    """(first, count) of the half-indices m whose position 2m + parity, in a line padded by
    ``pad``, holds one of its ``size`` pixels (pixel k sits at k + pad)."""
    first = (pad - parity + 1) // 2
    return first, max(0, (pad + size - 1 - parity) // 2 - first + 1)


def split_grid(src: np.ndarray, pad: tuple[int, int], out: np.ndarray) -> np.ndarray:
    """(C, H, W, N) -> ``out`` (2, 2, C, R, U, N), out[cp, rp, :, t, u] = pixel (2t + rp - pH,
    2u + cp - pW) of ``src``, zero where that is outside it. Only what lies outside is zeroed,
    so ``out`` may be a reused buffer."""
    (ph, pw), (_, h, w, _) = pad, src.shape
    for cp in (0, 1):
        c0, nc = _span(pw, w, cp)
        for rp in (0, 1):
            r0, nr = _span(ph, h, rp)
            quarter = out[cp, rp]
            quarter[:, :r0] = 0
            quarter[:, r0 + nr:] = 0
            rows = quarter[:, r0:r0 + nr]
            rows[:, :, :c0] = 0
            rows[:, :, c0 + nc:] = 0
            rows[:, :, c0:c0 + nc] = src[:, 2 * r0 + rp - ph::2, 2 * c0 + cp - pw::2]
    return out


def merge_grid(quarters: np.ndarray, pad: tuple[int, int], hw: tuple[int, int]) -> np.ndarray:
    """Inverse of ``split_grid``: (2, 2, C, R, U, N) -> a new contiguous (C, H, W, N)."""
    (ph, pw), (h, w) = pad, hw
    c, n = quarters.shape[2], quarters.shape[-1]
    out = np.empty((c, h, w, n), dtype=quarters.dtype)
    for y0 in (0, 1):                               # pixels y0, y0 + 2, ... of each column
        t0, nt = (y0 + ph) // 2, len(range(y0, h, 2))
        for x0 in (0, 1):
            u0, nu = (x0 + pw) // 2, len(range(x0, w, 2))
            quarter = quarters[(x0 + pw) % 2, (y0 + ph) % 2]
            out[:, y0::2, x0::2] = quarter[:, t0:t0 + nt, u0:u0 + nu]
    return out


def input_transform(x4: np.ndarray, v: np.ndarray, tmp: np.ndarray) -> None:
    """V = B^T d B for every 4x4 tile d of the split padded input ``x4`` (2, 2, C, th + 1,
    tw + 1, N) -> ``v`` (4, 4, C, th + 1, tw + 1, N); ``tmp`` is a (2, C, th + 1, tw + 1, N)
    work array."""
    s, down = x4.shape[-1], x4.shape[-1] * x4.shape[-2]       # next tile column, next tile row
    even, odd = x4[0].reshape(-1), x4[1].reshape(-1)          # columns 2u, 2u + 1
    flat = tmp.reshape(-1)
    cut = flat.size - s
    r, q = tmp[0].reshape(-1), tmp[1].reshape(-1)             # rows 2t, 2t + 1
    rcut = r.size - down
    # A tile's columns are even[u], odd[u], even[u+1], odd[u+1]: B^T's rows combine them into
    # column j of B^T d; then its rows, r[t], q[t], r[t+1], q[t+1], the same way.
    columns = ((np.subtract, even[:cut], even[s:]), (np.add, odd[:cut], even[s:]),
               (np.subtract, even[s:], odd[:cut]), (np.subtract, odd[:cut], odd[s:]))
    rows = ((np.subtract, r[:rcut], r[down:]), (np.add, q[:rcut], r[down:]),
            (np.subtract, r[down:], q[:rcut]), (np.subtract, q[:rcut], q[down:]))
    flat[cut:] = 0
    for j, (op, a, b) in enumerate(columns):
        op(a, b, out=flat[:cut])
        for i, (row_op, c, d) in enumerate(rows):
            out = v[i, j].reshape(-1)
            row_op(c, d, out=out[:rcut])
            out[rcut:] = 0


def input_adjoint(dv: np.ndarray, dx4: np.ndarray, tmp: np.ndarray) -> None:
    """Adjoint of ``input_transform``: adds B dV B^T of every tile into the zeroed ``dx4``
    (2, 2, C, th + 1, tw + 1, N), summing where tiles overlap. ``dv`` (4, 4, C, th + 1,
    tw + 1, N) must be zero in its junk tile row and column; ``tmp`` as for the transform."""
    s, down = dx4.shape[-1], dx4.shape[-1] * dx4.shape[-2]
    even, odd = dx4[0].reshape(-1), dx4[1].reshape(-1)
    dc = tmp.reshape(-1)
    cut = dc.size - s
    r, q = tmp[0].reshape(-1), tmp[1].reshape(-1)
    rcut = r.size - down
    # column j of the forward pass as (plus, minus) terms: c0 = even - even>, c1 = odd +
    # even>, c2 = even> - odd, c3 = odd - odd> (> the next tile column)
    columns = (((even[:cut],), (even[s:],)), ((odd[:cut], even[s:]), ()),
               ((even[s:],), (odd[:cut],)), ((odd[:cut],), (odd[s:],)))
    for j, (plus, minus) in enumerate(columns):
        d0, d1, d2, d3 = (dv[i, j].reshape(-1)[:rcut] for i in range(4))
        # rows, transposed: V0 = r - r>, V1 = q + r>, V2 = r> - q, V3 = q - q> (> the next row)
        np.add(d1, d2, out=q[:rcut])
        q[:rcut] -= d0
        np.copyto(r[:rcut], d0)
        r[rcut:] = 0
        r[down:] += q[:rcut]
        np.subtract(d1, d2, out=q[:rcut])
        q[:rcut] += d3
        q[rcut:] = 0
        q[down:] -= d3
        for part in plus:                           # columns, transposed
            part += dc[:cut]
        for part in minus:
            part -= dc[:cut]


def output_transform(m: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Y = A^T M A for every tile, in place: ``m`` (4, 4, C, rows, tw + 1, N) -> ((Y00, Y01),
    (Y10, Y11)), views into ``m`` (C, rows, tw + 1, N) of output pixel (2t + a, 2u + b)."""
    for j in range(4):                              # rows: R1 = M1 - M2 - M3, R0 = M0 + M1 + M2
        np.subtract(m[1, j], m[3, j], out=m[3, j])
        m[3, j] -= m[2, j]
        m[0, j] += m[1, j]
        m[0, j] += m[2, j]
    for r in (m[0], m[3]):                          # then the same on columns
        np.subtract(r[1], r[3], out=r[3])
        r[3] -= r[2]
        r[0] += r[1]
        r[0] += r[2]
    return (m[0, 0], m[0, 3]), (m[3, 0], m[3, 3])


def output_adjoint(g4: np.ndarray, dm: np.ndarray) -> None:
    """Adjoint of ``output_transform``: dM = A gY A^T for every tile; ``g4`` (2, 2, C, rows,
    tw + 1, N) holds gY split as ``split_grid`` does, ``dm`` is (4, 4, C, rows, tw + 1, N)."""
    (g00, g10), (g01, g11) = g4                     # g_ab: output pixel (2t + a, 2u + b)
    np.copyto(dm[0, 0], g00)                        # row 0 of A is (1, 0): output row 2t
    np.add(g00, g01, out=dm[0, 1])
    np.subtract(g00, g01, out=dm[0, 2])
    np.negative(g01, out=dm[0, 3])
    np.negative(g10, out=dm[3, 0])                  # row 3 of A is (0, -1): minus row 2t + 1
    np.add(g10, g11, out=dm[3, 1])
    np.negative(dm[3, 1], out=dm[3, 1])
    np.subtract(g11, g10, out=dm[3, 2])
    np.copyto(dm[3, 3], g11)
    for j in range(4):                              # rows 1 = (1, 1) and 2 = (1, -1) of A
        np.subtract(dm[0, j], dm[3, j], out=dm[1, j])
        np.add(dm[0, j], dm[3, j], out=dm[2, j])


def filter_transform(weight: np.ndarray) -> np.ndarray:
    """U = G g G^T per (output, input) channel pair: (C_out, C_in, 3, 3) -> (16, C_out, C_in),
    row 4i + j holding tile position (i, j). One product, as vec(G g G^T) = (G kron G) vec(g)."""
    c_out, c_in = weight.shape[:2]
    gg = np.kron(G, G).astype(weight.dtype)                     # (16, 9)
    return (gg @ weight.reshape(c_out * c_in, 9).T).reshape(16, c_out, c_in)


def filter_adjoint(du: np.ndarray) -> np.ndarray:
    """Adjoint of ``filter_transform``: dW = G^T dU G, (16, C_out, C_in) -> (C_out, C_in, 3, 3)."""
    _, c_out, c_in = du.shape
    gg = np.kron(G, G).astype(du.dtype)
    return (du.reshape(16, -1).T @ gg).reshape(c_out, c_in, 3, 3)
