"""Geometric kernels: the affine family (rotation, shear, translation, scale, flips) on image and
label map together, with the ``zoom``/``pad`` border rules.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from repro.data import IGNORE_INDEX
from repro.perturb.functional._common import (
    BORDERS, GEOMETRIC, MAX_ROTATE_DEG, MAX_SHEAR, MAX_TRANSLATE, _scalar_magnitude, check_name,
)
from repro.base.validation import is_int

# --------------------------------------------------------------------------- affine
def affine_parameters(name: str, magnitude: float, height: int, width: int) -> dict:
    """Rotation (degrees, + = counter-clockwise), shear factors and translation (pixels).

    ``rotate±: ±45·m``; ``shear_x±/shear_y±: ±0.3·m``; ``translate_x±: ±m·W/4``;
    ``translate_y±: ±m·H/4``.
    """
    check_name(name)
    if name not in GEOMETRIC:
        raise ValueError(f"{name!r} is not a geometric perturbation; geometric ones are {GEOMETRIC}")
    m = _scalar_magnitude(magnitude)
    sign = 1.0 if name.endswith("+") else -1.0
    p = {"angle": 0.0, "shear_x": 0.0, "shear_y": 0.0, "tx": 0.0, "ty": 0.0}
    if name.startswith("rotate"):
        p["angle"] = sign * MAX_ROTATE_DEG * m
    elif name.startswith("shear_x"):
        p["shear_x"] = sign * MAX_SHEAR * m
    elif name.startswith("shear_y"):
        p["shear_y"] = sign * MAX_SHEAR * m
    elif name.startswith("translate_x"):
        p["tx"] = sign * MAX_TRANSLATE * m * width
    else:
        p["ty"] = sign * MAX_TRANSLATE * m * height
    return p


def _forward_matrices(name: str, m: torch.Tensor, h: int, w: int):
    """Per-sample forward maps ``dst - c = A·(src - c) + t`` (float64, pixel units)."""
    n = m.numel()
    sign = 1.0 if name.endswith("+") else -1.0
    a = torch.eye(2, dtype=torch.float64).repeat(n, 1, 1)
    t = torch.zeros(n, 2, dtype=torch.float64)
    if name.startswith("rotate"):
        th = torch.deg2rad(sign * MAX_ROTATE_DEG * m)
        cos, sin = torch.cos(th), torch.sin(th)
        # counter-clockwise on screen (y axis down), as cv2.getRotationMatrix2D
        a[:, 0, 0], a[:, 0, 1], a[:, 1, 0], a[:, 1, 1] = cos, sin, -sin, cos
    elif name.startswith("shear_x"):
        a[:, 0, 1] = sign * MAX_SHEAR * m
    elif name.startswith("shear_y"):
        a[:, 1, 0] = sign * MAX_SHEAR * m
    elif name.startswith("translate_x"):
        t[:, 0] = sign * MAX_TRANSLATE * m * w
    else:
        t[:, 1] = sign * MAX_TRANSLATE * m * h
    return a, t


def _inverse_maps(name: str, m: torch.Tensor, h: int, w: int, border: str):
    """Output pixel → source pixel maps ``src - c = M·(out - c) + d`` (float64).

    For ``zoom`` and rotation/shear the output is the centred rectangle scaled by ``s``
    (``dst - c = s·(out - c)``) with the largest ``s ≤ 1`` whose four corners (pixel edges, half
    extents W/2, H/2) map inside the source: ``s = min (half - |d|)/|B·corner|`` over corners and
    axes, ``B = A⁻¹``, ``d = -A⁻¹·t``.  For a translation by ``t`` the largest such rectangle
    fills the unpadded part along the shift: ``s = 1 - |t|/size`` and its centre is ``t/2``, so
    ``src - c = s·(out - c) - t/2``.
    """
    a, t = _forward_matrices(name, m, h, w)
    b = torch.linalg.inv(a)
    d = -(b @ t.unsqueeze(-1)).squeeze(-1)
    if border == "zoom" and name.startswith("translate"):
        # the valid region is the image minus the padded strip of width |t|: the largest rectangle
        # of the original aspect ratio in it spans the strip's whole complement along the shift
        # (scale s = 1 - |t|/size, ≥ 3/4) and sits beside the strip, centred across it, i.e. its
        # centre is at t/2:  src - c = s·(out - c) + t/2 - t
        size = torch.tensor([w, h], dtype=torch.float64)
        s = 1.0 - (t.abs() / size).amax(dim=1)
        return b * s.view(-1, 1, 1), d / 2.0
    if border == "zoom":
        half = torch.tensor([w / 2.0, h / 2.0], dtype=torch.float64)
        corners = torch.tensor([[w / 2.0, h / 2.0], [w / 2.0, -h / 2.0]], dtype=torch.float64)
        bc = torch.einsum("nij,kj->nki", b, corners).abs()  # N×2 corners×2 axes
        room = (half - d.abs()).unsqueeze(1)  # N×1×2
        s = (room / bc.clamp_min(1e-12)).amin(dim=(1, 2)).clamp(max=1.0)
        b = b * s.view(-1, 1, 1)
    return b, d


def warp_matrix(name: str, magnitude: float, height: int, width: int, *, border: str = "zoom"):
    """The 2×3 output→source map of a geometric perturbation, in pixels (float64 nested lists).

    ``[sx, sy] = M·[ox, oy, 1]`` with pixel centres at integer coordinates (OpenCV's convention:
    ``cv2.warpAffine(img, M, (W, H), flags=... | cv2.WARP_INVERSE_MAP)``).  It is the map the
    batched kernels resample through (:func:`_inverse_maps`: the parameters of
    :func:`affine_parameters`, warp and zoom composed), for one magnitude, written about the
    origin: ``M[:, :2] = B``, ``M[:, 2] = c + d - B·c`` with the centre ``c = ((W-1)/2, (H-1)/2)``.
    Computed in scalar float64 arithmetic (the per-sample path calls it per image; the batched
    tensor version costs ~0.2 ms); the tests check both agree to 1e-12.
    """
    check_name(name)
    if name not in GEOMETRIC:
        raise ValueError(f"{name!r} is not a geometric perturbation; geometric ones are {GEOMETRIC}")
    if border not in BORDERS:
        raise ValueError(f"border must be one of {BORDERS}, got {border!r}")
    for what, v in (("height", height), ("width", width)):
        if not is_int(v, 1):
            raise ValueError(f"{what} must be a positive int (pixels), got {v!r}")
    p = affine_parameters(name, magnitude, height, width)
    # forward map dst - c = A·(src - c) + t (as _forward_matrices), inverted in closed form
    if p["angle"] != 0.0:
        th = math.radians(p["angle"])
        cos, sin = math.cos(th), math.sin(th)
        b = [[cos, -sin], [sin, cos]]  # inverse of [[cos, sin], [-sin, cos]]
    elif p["shear_x"] != 0.0:
        b = [[1.0, -p["shear_x"]], [0.0, 1.0]]
    elif p["shear_y"] != 0.0:
        b = [[1.0, 0.0], [-p["shear_y"], 1.0]]
    else:
        b = [[1.0, 0.0], [0.0, 1.0]]
    t = (p["tx"], p["ty"])
    d = [-(b[0][0] * t[0] + b[0][1] * t[1]), -(b[1][0] * t[0] + b[1][1] * t[1])]
    if border == "zoom" and name.startswith("translate"):
        s = 1.0 - max(abs(t[0]) / width, abs(t[1]) / height)
        b = [[v * s for v in row] for row in b]
        d = [d[0] / 2.0, d[1] / 2.0]
    elif border == "zoom":
        half = (width / 2.0, height / 2.0)
        s = 1.0
        for corner in ((width / 2.0, height / 2.0), (width / 2.0, -height / 2.0)):
            for i in range(2):
                bc = abs(b[i][0] * corner[0] + b[i][1] * corner[1])
                s = min(s, (half[i] - abs(d[i])) / max(bc, 1e-12))
        b = [[v * s for v in row] for row in b]
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    return [[b[0][0], b[0][1], cx + d[0] - b[0][0] * cx - b[0][1] * cy],
            [b[1][0], b[1][1], cy + d[1] - b[1][0] * cx - b[1][1] * cy]]


def _affine(x, y, name, m, border):
    """Resample images (bilinear) and labels (nearest) through the output→source maps.

    Source coordinates (pixels): ``sx = cx + M00·(ox-cx) + M01·(oy-cy) + dx`` and
    ``sy = cy + M10·(ox-cx) + M11·(oy-cy) + dy``.  Translations (M01 = M10 = 0) and shears
    (one of them 0) are separable and run as two 1-D passes (row gather + lerp, then column
    gather + lerp), which is exactly bilinear interpolation; rotations use ``grid_sample``.
    ``zoom`` clamps indices to the image (the maps stay inside it up to half a pixel), ``pad``
    reads from a one-pixel ring of 0 (images) / 255 (labels) around the source.  Labels take
    the source pixel ``floor(s + 1/2)``.
    """
    n, c, h, w = x.shape
    mat, d = _inverse_maps(name, m, h, w, border)
    out = torch.empty_like(x, memory_format=torch.contiguous_format)
    out_y = torch.empty_like(y) if y is not None else None
    pad = border == "pad"
    if pad:  # ring of fill values; indices are shifted by one and clamped to the ring
        xs = F.pad(x, (1, 1, 1, 1), value=0.0)
        ys = F.pad(y, (1, 1, 1, 1), value=IGNORE_INDEX) if y is not None else None
    else:
        xs, ys = x, y
    hs, ws = xs.shape[2], xs.shape[3]
    off = 1.0 if pad else 0.0
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    ct = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32  # coordinates
    ox = torch.arange(w, device=x.device, dtype=ct) - cx
    oy = torch.arange(h, device=x.device, dtype=ct) - cy
    mat_l, d_l = mat.tolist(), d.tolist()
    for i in range(n):
        (m00, m01), (m10, m11) = mat_l[i]
        # source coordinates in the (possibly ring-padded) source
        bx = cx + d_l[i][0] + off
        by = cy + d_l[i][1] + off
        src, dst = xs[i], out[i]
        if m01 == 0.0 and m10 == 0.0:  # translation (and zoom): rows, then columns
            sy = oy * m11 + by
            sx = ox * m00 + bx
            _lerp_into(_lerp_rows(src, sy, hs), sx, ws, dst)
            if y is not None:
                rows = ys[i].index_select(0, _nearest(sy, hs))
                torch.gather(rows, 1, _nearest(sx, ws).expand(h, w), out=out_y[i])
        elif m10 == 0.0:  # shear_x: rows, then a per-row shifted column gather
            sy = oy * m11 + by
            sx = torch.add((ox * m00 + bx)[None, :], (oy * m01)[:, None])  # h × w
            _lerp_into(_lerp_rows(src, sy, hs), sx, ws, dst)
            if y is not None:
                rows = ys[i].index_select(0, _nearest(sy, hs))
                torch.gather(rows, 1, _nearest(sx, ws), out=out_y[i])
        elif m01 == 0.0:  # shear_y: the shear_x path on the transposed image
            s_rows = ox * m00 + bx  # source column of each output column
            s_cols = torch.add((oy * m11 + by)[None, :], (ox * m10)[:, None])  # w × h source rows
            src_t = src.transpose(1, 2).contiguous()  # c × ws × hs
            tmp = torch.empty(c, w, h, dtype=x.dtype, device=x.device)
            _lerp_into(_lerp_rows(src_t, s_rows, ws), s_cols, hs, tmp)
            dst.copy_(tmp.transpose(1, 2))
            if y is not None:
                rows = ys[i].t().index_select(0, _nearest(s_rows, ws))  # w × hs
                out_y[i].copy_(torch.gather(rows, 1, _nearest(s_cols, hs)).t())
        else:  # rotation: general bilinear warp
            # grid_sample's normalised coordinates (align_corners=False): u = (2·s + 1)/size - 1
            grid = torch.empty(1, h, w, 2, dtype=x.dtype, device=x.device)
            ux, uy = 2.0 / ws, 2.0 / hs
            torch.add((ox * (m00 * ux) + ((2.0 * bx + 1.0) / ws - 1.0))[None, :], (oy * (m01 * ux))[:, None],
                      out=grid[0, :, :, 0])
            torch.add((ox * (m10 * uy))[None, :], (oy * (m11 * uy) + ((2.0 * by + 1.0) / hs - 1.0))[:, None],
                      out=grid[0, :, :, 1])
            dst.copy_(F.grid_sample(src[None], grid, mode="bilinear", padding_mode="border", align_corners=False)[0])
            if y is not None:  # nearest source pixel (class ids are exact in float32)
                lab = F.grid_sample(ys[i][None, None].to(grid.dtype), grid, mode="nearest",
                                    padding_mode="border", align_corners=False)
                out_y[i].copy_(lab[0, 0])
    return out, out_y


def _nearest(s: torch.Tensor, size: int) -> torch.Tensor:
    """Nearest integer index ``floor(s + 1/2)`` clamped to ``[0, size-1]``."""
    return torch.floor(s + 0.5).clamp_(0, size - 1).long()


def _taps(s: torch.Tensor, size: int):
    """Left/right tap indices (clamped to ``[0, size-1]``) and the right tap's weight."""
    f = torch.floor(s)
    frac = s - f
    i0 = f.clamp(0, size - 1).long()
    i1 = f.add_(1.0).clamp_(0, size - 1).long()
    return i0, i1, frac


def _lerp_rows(src: torch.Tensor, sy: torch.Tensor, size: int) -> torch.Tensor:
    """Rows of ``src`` (C×H×W) interpolated linearly at the 1-D row coordinates ``sy``."""
    i0, i1, frac = _taps(sy, size)
    a = src.index_select(1, i0)
    return a.lerp_(src.index_select(1, i1), frac.to(src.dtype).view(1, -1, 1))


def _lerp_into(src: torch.Tensor, sx: torch.Tensor, size: int, out: torch.Tensor) -> None:
    """Columns of ``src`` (C×H×W) interpolated at ``sx`` (1-D per column, or H×W) into ``out``.

    Indices are clamped to ``[0, size-1]``; with clamped taps this equals ``grid_sample``'s
    ``border`` padding, and with a ring of fill values around ``src`` its ``zeros`` padding.
    """
    i0, i1, frac = _taps(sx, size)
    shape = (src.shape[0], out.shape[1], out.shape[2])
    torch.gather(src, 2, i0.expand(shape), out=out)
    b = torch.gather(src, 2, i1.expand(shape))
    out.lerp_(b, frac.to(src.dtype).expand(shape))
