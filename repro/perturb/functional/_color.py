"""Photometric kernels: the RGB channel shifts (R±, G±, B±) and the HSV ones (H±, S±, V±).
"""
from __future__ import annotations

import torch

from repro.perturb.functional._common import CHANNEL_TARGETS, HSV_NAMES

# --------------------------------------------------------------------------- RGB channels
def _rgb_kernel(name: str):
    """``c' = (1-m)·c + m·t`` on channel ``name[0]``, t = 1 (``+``) or 0 (``-``) (:data:`CHANNEL_TARGETS`)."""
    _, c, target = CHANNEL_TARGETS[name]
    if target not in (0.0, 1.0):
        raise ValueError(f"RGB targets are 0 or 1, got {target} for {name!r}")
    lighter = target == 1.0

    def kernel(x, m, out):
        out.copy_(x)
        ch = out[:, c]
        mm = m[:, 0]
        ch.mul_(1.0 - mm)
        if lighter:
            ch.add_(mm)

    return kernel


# --------------------------------------------------------------------------- HSV channels
# The S and V cases are computed in closed form.  With V = max(r,g,b), mn = min(r,g,b),
# d = V - mn, S = d/V, every RGB channel is c = V - V·S·w(H) with w depending on the hue only.
# Keeping H fixed:
#   V' = (1-m)·V + m·t (t = 1 for V+, 10/255 for V-)  gives  c' = c·V'/V   (c' = V' where V = 0:
#        black is grey with S = 0, so all channels equal V');
#   S' = (1-m)·S (S-)                                  gives  c' = (1-m)·c + m·V;
#   S' = (1-m)·S + m (S+)                              gives  c' = (1-m)·c + m·V·(c - mn)/d
#        (where d = 0 the hue is 0 as in OpenCV: (c - mn)/d := 1 for R, 0 for G and B).
# The special cases are folded in branch-free with EPS = 1e-20: c·V'/V is computed as
# (c + EPS)·V'/(V + EPS) and (c - mn)/d as (c - mn + EPS·[1,0,0])/(d + EPS); for 8-bit-like
# inputs (any c, d > 1e-13) adding EPS changes nothing in float32, at V = 0 or d = 0 it yields
# the limits above.  (torch.where and comparisons are 5-20× slower than arithmetic on CPU.)
# The tests check all six against OpenCV's float HSV round trip.
_EPS = 1e-20


def _v_kernel(target: float):
    def kernel(x, m, out):
        v = x.amax(dim=1, keepdim=True)
        vp = torch.mul(v, 1.0 - m).add_(m * target)  # V'
        ratio = vp.div_(v.add_(_EPS))  # V'/V
        torch.add(x, _EPS, out=out).mul_(ratio)

    return kernel


def _s_minus_kernel(x, m, out):
    v = x.amax(dim=1, keepdim=True)
    torch.mul(x, 1.0 - m, out=out)
    out.add_(v.mul_(m))


def _s_plus_kernel(x, m, out):
    v = x.amax(dim=1, keepdim=True)
    mn = x.amin(dim=1, keepdim=True)
    d = (v - mn).add_(_EPS)
    frac = x - mn
    frac[:, 0].add_(_EPS)
    frac.div_(d)  # (c - mn)/d
    torch.mul(x, 1.0 - m, out=out)
    out.addcmul_(frac, v.mul_(m))


def _hue_kernel(lighter: bool):
    """Hue scaling ``H' = (1-m)·H + m·c`` (c = 180 stored ≙ 360° for H+, 0 for H-).

    Hue as OpenCV computes it, in sextants (degrees/60): ``V == R: (G-B)/d``, else
    ``V == G: 2 + (B-R)/d``, else ``4 + (R-G)/d``, +6 if negative (0 where d = 0).  Back to RGB:
    ``c_n = V - d·w_n`` with ``w_n = clamp(min(k, 4-k), 0, 1)``, ``k = (n + H') mod 6``,
    n = 5, 3, 1 for R, G, B.  For ``H' ∈ [0, 6]`` the three triangle waves unroll without a
    modulo: ``w_R = clamp(2 - |H'-3|, 0, 1)``, ``w_G = clamp(2 - min(H'+1, |H'-5|), 0, 1)``,
    ``w_B = clamp(2 - min(|H'-1|, 7-H'), 0, 1)`` — all branch-free arithmetic.
    """

    def kernel(x, m, out):
        r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
        v = x.amax(dim=1, keepdim=True)
        d = v - x.amin(dim=1, keepdim=True)
        is_r = torch.empty_like(v)
        is_g = torch.empty_like(v)
        torch.ge(r, v, out=is_r)  # 1.0 where R is the maximum
        torch.ge(g, v, out=is_g)
        is_g.addcmul_(is_g, is_r, value=-1.0)  # G is the maximum and R is not
        # h·d = C + is_r·(A - C) + is_g·(B - C) with the numerators (and sextant offsets)
        # A = G-B (max R), B = B-R+2d (max G), C = R-G+4d (max B)
        c_num = (r - g).add_(d, alpha=4.0)
        h = (g - b).sub_(c_num).mul_(is_r)
        h.addcmul_((b - r).add_(d, alpha=2.0).sub_(c_num), is_g).add_(c_num)
        h.div_(d + _EPS)
        h.add_(torch.lt(h, 0.0, out=is_r), alpha=6.0)  # into [0, 6)
        h.mul_(1.0 - m)
        if lighter:
            h.add_(6.0 * m)
        w = torch.empty_like(v)
        # R: clamp(2 - |H'-3|, 0, 1)
        torch.sub(h, 3.0, out=w).abs_().neg_().add_(2.0).clamp_(0.0, 1.0)
        torch.addcmul(v, d, w, value=-1.0, out=out[:, 0:1])
        # G: clamp(2 - min(H'+1, |H'-5|), 0, 1)
        torch.minimum(h + 1.0, torch.sub(h, 5.0, out=w).abs_(), out=w).neg_().add_(2.0).clamp_(0.0, 1.0)
        torch.addcmul(v, d, w, value=-1.0, out=out[:, 1:2])
        # B: clamp(2 - min(|H'-1|, 7-H'), 0, 1)
        torch.minimum((h - 1.0).abs_(), torch.sub(7.0, h, out=w), out=w).neg_().add_(2.0).clamp_(0.0, 1.0)
        torch.addcmul(v, d, w, value=-1.0, out=out[:, 2:3])

    return kernel


def _hsv_kernel(name: str):
    """The closed-form kernel of an HSV perturbation, with its target from :data:`CHANNEL_TARGETS`."""
    _, channel, target = CHANNEL_TARGETS[name]
    if channel == 2:
        return _v_kernel(target)
    if target not in (0.0, 1.0):
        raise ValueError(f"H and S targets are 0 or 1, got {target} for {name!r}")
    if channel == 1:
        return _s_plus_kernel if target == 1.0 else _s_minus_kernel
    return _hue_kernel(target == 1.0)


_HSV_KERNELS = {name: _hsv_kernel(name) for name in HSV_NAMES}


