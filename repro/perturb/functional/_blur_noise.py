"""Gaussian blur (separable, reflect-101 borders as OpenCV) and Gaussian noise kernels.
"""
from __future__ import annotations

import torch

from repro.perturb.functional._common import MAX_NOISE_SIGMA, _chunk_slices, blur_kernel_size, gaussian_kernel1d

# --------------------------------------------------------------------------- blur
def _blur(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur; samples grouped by kernel size (one pass per group)."""
    ks = [blur_kernel_size(float(v)) for v in m.tolist()]
    out = torch.empty_like(x, memory_format=torch.contiguous_format)
    groups = {}
    for i, k in enumerate(ks):
        groups.setdefault(k, []).append(i)
    for k, rows in groups.items():
        if len(rows) == len(ks):
            _blur_into(x, k, out)
        else:
            idx = torch.tensor(rows, device=x.device)
            sub = x.index_select(0, idx)
            res = torch.empty_like(sub)
            _blur_into(sub, k, res)
            out.index_copy_(0, idx, res)
    return out


def _toeplitz(w: torch.Tensor, block: int) -> torch.Tensor:
    """block × (block+k-1) matrix T with T[r, r:r+k] = w (one block of a 1-D convolution)."""
    k = w.numel()
    t = torch.zeros(block, block + k - 1, dtype=w.dtype, device=w.device)
    for r in range(block):
        t[r, r : r + k] = w
    return t


def _reflect101_index(n: int, p: int, total: int, device) -> torch.Tensor:
    """Indices of a reflect-101 padding by ``p`` of a length-``n`` axis, extended to ``total``.

    Position ``j`` of the padded axis reads ``i = j - p`` folded into ``[0, n-1]`` with period
    ``2(n-1)`` (OpenCV's BORDER_REFLECT_101, also for pads larger than the axis); positions
    beyond ``n + 2p`` are filler (they are zeroed by the caller).
    """
    i = torch.arange(total, device=device) - p
    if n == 1:
        return torch.zeros_like(i)
    period = 2 * (n - 1)
    i = torch.remainder(i, period)
    return torch.where(i >= n, period - i, i)


def _reflect_pad_into(src: torch.Tensor, p: int, dst: torch.Tensor) -> None:
    """Write ``src`` (P×H×W) reflect-101-padded by ``p`` into ``dst[:, :H+2p, :W+2p]`` (p < H, W)."""
    _, h, w = src.shape
    dst[:, p : p + h, p : p + w] = src
    if p == 0:
        return
    mid = dst[:, p : p + h]
    mid[:, :, :p] = src[:, :, 1 : p + 1].flip(-1)
    mid[:, :, p + w : w + 2 * p] = src[:, :, w - p - 1 : w - 1].flip(-1)
    dst[:, :p, : w + 2 * p] = dst[:, p + 1 : 2 * p + 1, : w + 2 * p].flip(1)
    dst[:, p + h : h + 2 * p, : w + 2 * p] = dst[:, h - 1 : h + p - 1, : w + 2 * p].flip(1)


def _blur_into(x: torch.Tensor, k: int, out: torch.Tensor) -> None:
    """Gaussian blur of odd size k with reflect-101 borders into ``out``.

    Each 1-D pass is a batched matrix product: the output is cut into blocks of ``b`` rows
    (columns), and every block is ``T @ window`` with the Toeplitz block T (b × (b+k-1)) and
    the overlapping (b+k-1)-row window of the padded input, a strided view that BLAS reads in
    place (one plane at a time on CPU, so that no window is ever copied).  This runs at BLAS
    speed, unlike a 1-channel ``conv2d``; the result equals ``cv2.GaussianBlur`` to float
    round-off.
    """
    if k == 1:
        out.copy_(x)
        return
    n, c, h, w = x.shape
    p = k // 2
    wk = gaussian_kernel1d(k, dtype=x.dtype, device=x.device)
    b = 16 if k <= 31 else 32  # block size: fastest on an AVX2 CPU for these kernel sizes
    t = _toeplitz(wk, b)
    tt = t.t()
    nbh, nbw = -(-h // b), -(-w // b)
    kb = b + k - 1
    hp, wp = nbh * b + k - 1, nbw * b + k - 1  # padded and rounded up to whole blocks
    hv = nbh * b
    small = p >= h or p >= w
    if small:
        # OpenCV's reflect-101 (gfedcb|abcdefgh|gfedcba), repeated for kernels larger than the image
        rows = _reflect101_index(h, p, hp, x.device)
        cols = _reflect101_index(w, p, wp, x.device)
    per_plane = x.device.type == "cpu"
    vert = hor = None
    for sl in _chunk_slices(x):
        xc = x[sl].reshape(-1, h, w)
        nc = xc.shape[0]
        if small:
            xp = xc.index_select(2, cols).index_select(1, rows)
        else:
            xp = torch.empty(nc, hp, wp, dtype=x.dtype, device=x.device)
            _reflect_pad_into(xc, p, xp)
        xp[:, h + 2 * p :].zero_()  # beyond the padding: zeros (only feed discarded outputs)
        xp[:, :, w + 2 * p :].zero_()
        dst = out[sl].view(-1, h, w)
        if per_plane:
            if vert is None:  # buffers reused for every plane (no allocation per plane)
                vert = torch.empty(nbh, b, wp, dtype=x.dtype, device=x.device)
                hor = torch.empty(nbw, hv, b, dtype=x.dtype, device=x.device)
            full = w // b
            for j in range(nc):
                win = xp[j].as_strided((nbh, kb, wp), (b * wp, wp, 1))
                torch.matmul(t, win, out=vert)  # nbh × b × wp
                winh = vert.view(hv, wp).as_strided((nbw, hv, kb), (b, wp, 1))
                torch.matmul(winh, tt, out=hor)  # nbw × hv × b
                d = dst[j]
                d[:, : full * b].view(h, full, b).copy_(hor[:full, :h].permute(1, 0, 2))
                if full < nbw:
                    d[:, full * b :].copy_(hor[full, :h, : w - full * b])
        else:
            win = xp.as_strided((nc, nbh, kb, wp), (hp * wp, b * wp, wp, 1))
            vert = torch.matmul(t, win).reshape(nc, hv, wp)
            winh = vert.as_strided((nc, nbw, hv, kb), (hv * wp, b, wp, 1))
            hor = torch.matmul(winh, tt)
            dst.copy_(hor.permute(0, 2, 1, 3).reshape(nc, hv, nbw * b)[:, :h, :w])


# --------------------------------------------------------------------------- noise
def _noise(x: torch.Tensor, m: torch.Tensor, generator) -> torch.Tensor:
    """``x' = clamp(x + σ·z, 0, 1)``, ``σ = 50·m/255``, z ~ N(0, 1), chunk by chunk."""
    if generator is None:
        generator = torch.Generator(device=x.device).manual_seed(0)
    out = torch.empty_like(x, memory_format=torch.contiguous_format)
    sigma = m.to(device=x.device, dtype=x.dtype).view(-1, 1, 1, 1) * (MAX_NOISE_SIGMA / 255.0)
    same_device = generator.device.type == x.device.type
    for sl in _chunk_slices(x):
        o = out[sl]
        if same_device:
            torch.randn(o.shape, generator=generator, dtype=x.dtype, device=x.device, out=o)
        else:
            o.copy_(torch.randn(o.shape, generator=generator, dtype=x.dtype, device=generator.device))
        o.mul_(sigma[sl]).add_(x[sl]).clamp_(0.0, 1.0)
    return out


