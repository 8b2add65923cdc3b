"""Small segmentation models trained here with plain PyTorch: stand-ins for quick experiments.

:class:`TinyUNet` and :func:`tiny_unet` (seeded weights) and :func:`quick_model` (a few hundred
Adam steps on a shipped dataset, cached).  They are NOT the paper's models (those are trained
through MMSegmentation by :mod:`repro.train`); benchmarks and tests use them where a real but
cheap segmentation model is enough.  No global RNG state is used: weights and batches come from
explicit ``torch.Generator`` seeds.
"""
from __future__ import annotations

import math
import time
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from repro.base.validation import check_int

__all__ = ["TinyUNet", "tiny_unet", "quick_model"]


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class TinyUNet(nn.Module):
    """A three-scale U-Net (widths w, 2w, 4w, 8w) for N×3×H×W RGB [0, 1] input → N×C×H×W logits.

    The input is average-pooled by ``downsample`` first and the logits are resized back
    bilinearly (cheap on CPU)."""

    def __init__(self, num_classes: int, width: int = 16, downsample: int = 1):
        super().__init__()
        w = width
        self.num_classes, self.width, self.downsample = num_classes, width, downsample
        self.enc1, self.enc2, self.enc3 = _block(3, w), _block(w, 2 * w), _block(2 * w, 4 * w)
        self.mid = _block(4 * w, 8 * w)
        self.up3, self.dec3 = nn.ConvTranspose2d(8 * w, 4 * w, 2, 2), _block(8 * w, 4 * w)
        self.up2, self.dec2 = nn.ConvTranspose2d(4 * w, 2 * w, 2, 2), _block(4 * w, 2 * w)
        self.up1, self.dec1 = nn.ConvTranspose2d(2 * w, w, 2, 2), _block(2 * w, w)
        self.head = nn.Conv2d(w, num_classes, 1)

    def forward(self, x):
        H, W = x.shape[-2:]
        if self.downsample > 1:
            x = F.avg_pool2d(x, self.downsample, ceil_mode=True)
        h, wd = x.shape[-2:]
        ph, pw = (-h) % 8, (-wd) % 8
        x = F.pad((x - 0.5) / 0.25, (0, pw, 0, ph), mode="replicate")
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        e3 = self.enc3(F.max_pool2d(e2, 2))
        m = self.mid(F.max_pool2d(e3, 2))
        d3 = self.dec3(torch.cat([self.up3(m), e3], 1))
        d2 = self.dec2(torch.cat([self.up2(d3), e2], 1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], 1))
        out = self.head(d1)[..., :h, :wd]
        if self.downsample > 1:
            out = F.interpolate(out, size=(H, W), mode="bilinear", align_corners=False)
        return out


def tiny_unet(num_classes: int, *, width: int = 16, downsample: int = 1, seed: int = 0):
    """A :class:`TinyUNet` with weights drawn from ``torch.Generator(seed)`` (He-normal convs,
    identity batch norms, zero biases); the global RNG is not touched."""
    with torch.random.fork_rng(devices=[]):
        model = TinyUNet(num_classes, width, downsample)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                fan_in = m.weight[0].numel() if isinstance(m, nn.Conv2d) else m.weight.shape[0] * m.weight[0, 0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * math.sqrt(2.0 / fan_in))
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.BatchNorm2d):
                m.reset_parameters()
    return model


def quick_model(dataset: str = "camvid", split: str = "train", *, iterations: int = 300, batch_size: int = 8,
                lr: float = 3e-3, width: int = 8, downsample: int = 2, seed: int = 0, device: Any = None, force: bool = False,
                progress: bool = True):
    """A small U-Net trained briefly with plain PyTorch (a stand-in baseline, NOT the paper's PSPNet).

    Architecture: :func:`tiny_unet` (``width``; input average-pooled by ``downsample``).
    Adam (``lr``, cosine decay to 0) on cross-entropy (ignore 255), random horizontal flips,
    ``iterations`` steps of ``batch_size`` images drawn with ``torch.Generator(seed)`` from
    ``repro.data.load_dataset(dataset, split)``. Cached (namespace ``quick_model``) by the whole
    configuration; returns the model in eval mode on ``device`` (default CPU) with
    ``model.train_log`` = {"loss": [...], "wall_s": seconds, "config": {...}}.
    """
    from repro.base.cache import cached
    from repro.data import load_dataset

    for name, v, lo in (("iterations", iterations, 1), ("batch_size", batch_size, 1), ("width", width, 1),
                        ("downsample", downsample, 1)):
        check_int(v, name, lo)
    ds = load_dataset(dataset, split)
    config = {"version": 1, "dataset": dataset, "split": split, "n": len(ds), "iterations": iterations,
              "batch_size": batch_size, "lr": lr, "width": width, "downsample": downsample, "seed": seed,
              "arch": "TinyUNet"}
    dev = torch.device(device) if device is not None else torch.device("cpu")

    def compute():
        from tqdm import tqdm

        from repro.base.progress import disabled

        t0 = time.perf_counter()
        images, labels = ds.batch()
        model = tiny_unet(ds.num_classes, width=width, downsample=downsample, seed=seed).to(dev).train()
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 0.5 * (1 + math.cos(math.pi * i / iterations)))
        g = torch.Generator().manual_seed(seed)
        losses = []
        for _ in tqdm(range(iterations), desc="quick_model", unit="it", disable=disabled(progress)):
            idx = torch.randint(0, images.shape[0], (batch_size,), generator=g)
            flip = torch.rand(batch_size, generator=g) < 0.5
            x, y = images[idx].clone(), labels[idx].clone()
            x[flip], y[flip] = x[flip].flip(-1), y[flip].flip(-1)
            x, y = x.to(dev), y.to(dev)
            loss = F.cross_entropy(model(x), y, ignore_index=ds.ignore_index)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        return {"state_dict": state, "loss": losses, "wall_s": time.perf_counter() - t0,
                "num_classes": ds.num_classes}

    out = cached("quick_model", config, compute, force=force)
    model = tiny_unet(out["num_classes"], width=width, downsample=downsample, seed=seed)
    model.load_state_dict(out["state_dict"])
    model.train_log = {"loss": out["loss"], "wall_s": out["wall_s"], "config": config}
    return model.to(dev).eval()
