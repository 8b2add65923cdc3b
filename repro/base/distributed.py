"""Sharding the evaluation over processes with ``torch.distributed`` (``torchrun``).

The evaluation suites (:mod:`repro.evaluation.suites`) and the robustness report (:mod:`repro.robustness`)
split their work over the ranks of an initialised default process group and gather the results;
without one (a plain ``python`` run) everything here is the identity of a one-process world, so
the same code runs in both cases.

``torchrun`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``;
:func:`init_from_env` opens the default group from them (backend ``nccl`` when the process has a
CUDA device, else ``gloo``; ``REPRO_DIST_BACKEND`` overrides). The same command works across
machines (``torchrun --nnodes``): only the launcher's rendezvous changes.

Sharding rule (deterministic, the same on every rank): a *step* of work is a list of tasks, each cut
into *units* with a cost (:func:`run_sharded`); the units are handed out in order, each to the rank
with the least cost so far (ties: the lowest rank; :func:`assign`), so units of equal cost go round
robin (unit ``u`` to rank ``u % world_size``). What a unit is depends on how an item draws its
randomness (:mod:`repro.evaluation.suites`): a chunk of ``batch_size`` images (cost 1) for items whose images
are independent (clean, ImageNet-C with per-image seeds, real-world), a whole item (cost: its number
of chunks) for items whose draws run one generator through the chunks (``basis_aug``, ``advsteer``).
Every rank then receives every rank's partial results (``all_gather_object``). Confusion matrices
are int64 counts, so their sum over ranks is exact whatever the order: a sharded run gives the
single-process numbers bit for bit.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Sequence

__all__ = ["is_distributed", "rank", "world_size", "assign", "run_sharded", "init_from_env", "gather", "broadcast",
           "barrier"]


def is_distributed() -> bool:
    """True when ``torch.distributed`` is available and its default process group is initialised."""
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process' global rank (0 without a process group)."""
    import torch.distributed as dist

    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """The number of processes (1 without a process group)."""
    import torch.distributed as dist

    return dist.get_world_size() if is_distributed() else 1


def assign(costs: Sequence[float], world: int | None = None) -> list[int]:
    """The rank of each unit: units in order, each to the rank with the least total cost so far
    (ties: the lowest rank). ``costs``: one non-negative number per unit (e.g. images to score);
    equal costs give round robin, ``[u % world for u in range(len(costs))]``."""
    world = world_size() if world is None else world
    if isinstance(world, bool) or not isinstance(world, int) or world < 1:
        raise ValueError(f"world must be an int >= 1, got {world!r}")
    load = [0.0] * world
    out = []
    for c in costs:
        if isinstance(c, bool) or not isinstance(c, (int, float)) or not c >= 0:
            raise ValueError(f"costs must be numbers >= 0, got {c!r}")
        r = min(range(world), key=lambda i: (load[i], i))
        load[r] += c
        out.append(r)
    return out


def run_sharded(tasks: Sequence[tuple[Sequence[Any], Sequence[float], Callable[[list], Any]]]) -> list[list]:
    """Run one step of work over the ranks and gather it.

    ``tasks``: ``(units, costs, run)`` triples: the task's units (any picklable ids, e.g. chunk
    numbers), their costs, and ``run(my_units) -> partial`` computing this rank's units of the task
    (called only when the rank owns at least one; ``partial`` must be picklable, tensors on the CPU).
    Units of all tasks are assigned together (:func:`assign`). Returns, on every rank and for each
    task, the list of its partials in rank order (ranks that owned none of its units left out)."""
    flat = [(t, u, c) for t, (units, costs, _) in enumerate(tasks) for u, c in zip(units, costs, strict=True)]
    owners = assign([c for _, _, c in flat])
    me = rank()
    mine: dict[int, Any] = {}
    for t, (_, _, run) in enumerate(tasks):
        units = [u for (tt, u, _), r in zip(flat, owners) if tt == t and r == me]
        if units:
            mine[t] = run(units)
    everyone = gather(mine)
    return [[g[t] for g in everyone if t in g] for t in range(len(tasks))]


def init_from_env(backend: str | None = None) -> bool:
    """Open the default process group when launched by ``torchrun`` (``WORLD_SIZE`` > 1 in the
    environment) and none is open yet (it is closed again at interpreter exit); returns whether a
    group is open afterwards.

    ``backend``: ``"gloo"`` or ``"nccl"``; default ``$REPRO_DIST_BACKEND``, else ``nccl`` when CUDA is
    available, else ``gloo``. With ``nccl`` each process uses CUDA device ``LOCAL_RANK``."""
    import torch
    import torch.distributed as dist

    if is_distributed():
        return True
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        raise ValueError(f"environment variable WORLD_SIZE must be an int, got {os.environ['WORLD_SIZE']!r}") from None
    if world <= 1:
        return False
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    backend = backend or os.environ.get("REPRO_DIST_BACKEND") or ("nccl" if torch.cuda.is_available() else "gloo")
    if backend not in ("gloo", "nccl"):
        raise ValueError(f"backend must be 'gloo' or 'nccl', got {backend!r}")
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend)
    import atexit

    # a group left open at interpreter exit can abort the process in gloo's teardown ("terminate called
    # without an active exception", seen in about 1 of 5 two-process runs here); close it first
    atexit.register(_close)
    return True


def _close() -> None:
    import torch.distributed as dist

    if is_distributed():
        dist.destroy_process_group()


def gather(obj: Any) -> list:
    """``[obj of rank 0, obj of rank 1, ...]`` on every rank (``all_gather_object``); ``[obj]`` alone.

    ``obj`` must be picklable; tensors in it should be on the CPU."""
    import torch.distributed as dist

    if not is_distributed():
        return [obj]
    out: list = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every rank (``broadcast_object_list``); ``obj`` itself alone."""
    import torch.distributed as dist

    if not is_distributed():
        return obj
    box = [obj if dist.get_rank() == src else None]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def barrier() -> None:
    """Wait for every rank (nothing alone)."""
    import torch.distributed as dist

    if is_distributed():
        dist.barrier()
