"""How the sampling distribution reaches the dataloader workers: an iteration-keyed schedule file.

The :class:`~repro.train.hooks.SensitivityHook` (main process, every rank) owns the sampling
distribution; the :class:`~repro.train.transforms.SensitivityAugment` transform runs in the
dataloader workers (separate processes, persistent or not, possibly prefetching several batches
ahead).  They share a small JSON file in the work directory, one per rank
(``<work_dir>/sia_schedule.rank<R>.json``)::

    {"format": 1, "run_id": "...", "batch_size": B, "valid_until": V,
     "schedule": [{"from_iter": 0, "distribution": {...}}, {"from_iter": 40, ...}, ...]}

* ``schedule`` lists every distribution of the run with the first training iteration that uses
  it (0-based); the distribution for iteration ``i`` is the last entry with ``from_iter <= i``.
* ``valid_until`` promises that the schedule is final for every iteration ``< V`` (V is the next
  iteration at which the hook will refresh the distribution, or ``max_iters``).
* The hook rewrites the file atomically (temporary file + ``os.replace``) whenever it changes.

A worker knows which iteration a sample belongs to without any message from the main process:
PyTorch's DataLoader hands whole batches to its W workers round robin, so the c-th sample
(0-based) processed by worker w belongs to batch ``b = (c // B)·W + w`` (``b = c // B`` without
workers), and mmengine's ``IterBasedTrainLoop`` consumes batch b at iteration b (on resume it
re-draws the skipped batches, so the counting stays aligned).  The worker re-reads the file only
when it changed (inode, mtime, size) and, when asked for an iteration ``>= valid_until``, waits
(polling) until the hook has published it.  Hence every sample of iteration i uses exactly the
distribution the hook computed for iteration i -- independent of worker timing, prefetching and
persistent workers -- which is what makes killed-and-resumed runs and DDP runs reproducible.

``run_id`` ties the file to one process group's run: a stale file left by an interrupted earlier
process is ignored until the new run's hook has rewritten it.

Finding each other in a plain mmengine run (``schedule_file="auto"``, the transform's default).
Under mmengine's own ``Runner`` nothing tells the transform where the hook writes: the hook only
learns the work directory in ``before_run``, after the dataloader workers have been started.
They meet through the runner's experiment name (``<name>_<timestamp>``, identical on every rank,
the name of the runner's ``MessageHub``), known to both sides when they are built:

1. ``SensitivityHook.__init__`` (built in ``Runner.__init__``) calls :func:`announce` with the
   current experiment name: this runner has a hook.
2. ``SensitivityAugment.__init__`` (built when the runner builds its train dataloader, in the
   main process) sees the announcement for the current experiment and keeps the name (it travels
   to the workers with the transform).
3. ``before_run`` of the hook writes the pointer file :func:`pointer_path` (in the temporary
   directory) naming the schedule file it uses (``<work_dir>/sia_schedule.json`` by default) and
   its run id; the transform waits for the pointer, then reads the schedule as above.

Without an announcement (no ``SensitivityHook`` in the runner) ``"auto"`` means the warm-up
distribution for the whole run, with one warning.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from repro.base.validation import check_int

__all__ = ["FORMAT", "schedule_path", "write_schedule", "ScheduleReader", "ScheduleTimeout", "current_rank",
           "current_experiment", "announce", "announced", "pointer_path", "write_pointer", "read_pointer",
           "remove_pointer", "retire"]

FORMAT = 1


class ScheduleTimeout(TimeoutError):
    """The schedule file did not cover an iteration within the allowed time."""


def current_rank() -> int:
    """Global rank from the environment (``RANK``, as set by torchrun / mmengine); 0 if unset."""
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


#: experiment names whose runner has a SensitivityHook (this process only; see the module docstring)
_ANNOUNCED: set[str] = set()
#: the MessageHub name outside any runner (mmengine's default instance)
_NO_RUNNER = "mmengine"


def current_experiment() -> str | None:
    """Name of the current mmengine runner (its ``MessageHub``'s), or ``None`` outside a runner."""
    from mmengine.logging import MessageHub

    name = MessageHub.get_current_instance().instance_name
    return None if name == _NO_RUNNER else name


def announce(experiment: str | None) -> None:
    """Record that the runner ``experiment`` has a SensitivityHook (no-op for ``None``)."""
    if experiment is not None:
        _ANNOUNCED.add(experiment)


def retire(experiment: str | None) -> None:
    """Forget that the runner ``experiment`` has a SensitivityHook (its run has ended). mmengine keeps
    the last runner's ``MessageHub`` as the current instance after the run, so without this a
    ``SensitivityAugment`` used later in the same process, outside any runner, would wait for the
    schedule of a run that is over (:class:`ScheduleTimeout` after 600 s)."""
    _ANNOUNCED.discard(experiment)


def announced(experiment: str | None) -> bool:
    """Has the runner ``experiment`` a SensitivityHook (announced in this process)?"""
    return experiment is not None and experiment in _ANNOUNCED


def pointer_path(experiment: str) -> Path:
    """``<tmp>/repro-sia-<uid>/<experiment>.json``: where the hook says which schedule file it uses."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in experiment)
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"repro-sia-{uid}" / f"{safe}.json"


def write_pointer(experiment: str, schedule_file: str | os.PathLike, run_id: str | None) -> Path:
    """Atomically write the pointer of ``experiment`` (identical content on every rank)."""
    path = pointer_path(experiment)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(dict(format=FORMAT, experiment=experiment, schedule_file=str(schedule_file), run_id=run_id), f)
    os.replace(tmp, path)
    return path


def read_pointer(experiment: str, *, timeout: float = 600.0, poll: float = 0.02) -> tuple[str, str | None]:
    """(schedule file base, run id) published by the hook of ``experiment``; waits up to ``timeout`` s."""
    path = pointer_path(experiment)
    deadline = time.monotonic() + float(timeout)
    while True:
        try:
            d = json.loads(path.read_text())
            if d.get("format") == FORMAT and d.get("experiment") == experiment:
                return d["schedule_file"], d.get("run_id")
        except (OSError, json.JSONDecodeError, KeyError):
            pass
        if time.monotonic() > deadline:
            raise ScheduleTimeout(f"{path}: the SensitivityHook of run {experiment!r} did not say within "
                                  f"{timeout:.0f} s which schedule file it writes (its before_run never ran?)")
        time.sleep(poll)


def remove_pointer(experiment: str) -> None:
    """Delete the pointer of ``experiment`` (after the run)."""
    try:
        pointer_path(experiment).unlink()
    except FileNotFoundError:
        pass


def schedule_path(base: str | os.PathLike, rank: int | None = None) -> Path:
    """Per-rank file for ``base`` (``x.json`` → ``x.rank<R>.json``)."""
    base = Path(base)
    rank = current_rank() if rank is None else int(rank)
    return base.with_name(f"{base.stem}.rank{rank}{base.suffix or '.json'}")


def write_schedule(path: str | os.PathLike, *, run_id: str | None, batch_size: int, valid_until: int,
                   schedule: Sequence[Mapping[str, Any]]) -> None:
    """Atomically write the schedule file ``path`` (see the module docstring for the format)."""
    check_int(batch_size, "batch_size", 1)
    entries = [dict(from_iter=int(e["from_iter"]), distribution=e["distribution"]) for e in schedule]
    if not entries or entries[0]["from_iter"] != 0:
        raise ValueError("schedule must start with an entry from_iter=0")
    if any(b["from_iter"] < a["from_iter"] for a, b in zip(entries, entries[1:])):
        raise ValueError("schedule entries must be sorted by from_iter")
    payload = dict(format=FORMAT, run_id=run_id, batch_size=int(batch_size), valid_until=int(valid_until),
                   schedule=entries)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class ScheduleReader:
    """Reads the schedule file lazily; :meth:`distribution_for` waits for unpublished iterations.

    Parameters
    ----------
    path : the per-rank schedule file.
    run_id : accept only files written for this run (``None``: accept any).
    timeout : seconds to wait for an iteration to be published before :class:`ScheduleTimeout`.
    poll : seconds between re-reads while waiting.
    """

    def __init__(self, path: str | os.PathLike, *, run_id: str | None = None, timeout: float = 600.0,
                 poll: float = 0.02):
        self.path = Path(path)
        self.run_id = run_id
        self.timeout = float(timeout)
        self.poll = float(poll)
        self._stamp = None
        self._data: dict | None = None
        self._ppid = os.getppid()

    def _refresh(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        try:
            data = json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError):
            return  # being replaced; try again on the next poll
        self._stamp = stamp
        if data.get("format") != FORMAT or (self.run_id is not None and data.get("run_id") != self.run_id):
            self._data = None
            return
        self._data = data

    @property
    def data(self) -> dict | None:
        """The last accepted file contents (refreshed), or ``None``."""
        self._refresh()
        return self._data

    def batch_size(self) -> int:
        """Batch size published by the hook (waits for the file)."""
        return int(self._wait(lambda d: True)["batch_size"])

    def _wait(self, ok) -> dict:
        deadline = time.monotonic() + self.timeout
        while True:
            self._refresh()
            if self._data is not None and ok(self._data):
                return self._data
            if os.getppid() != self._ppid:  # the training process died (e.g. SIGKILL): do not linger
                raise RuntimeError(f"{self.path}: parent process exited while waiting for the schedule")
            if time.monotonic() > deadline:
                have = None if self._data is None else self._data.get("valid_until")
                raise ScheduleTimeout(
                    f"{self.path}: no sampling distribution published within {self.timeout:.0f} s "
                    f"(file {'missing or from another run' if self._data is None else f'valid until iteration {have}'}). "
                    "Is SensitivityHook in custom_hooks and bound to the same work_dir/run_id as the transform?")
            time.sleep(self.poll)

    def distribution_for(self, iteration: int) -> dict:
        """The distribution dict in effect at training iteration ``iteration`` (0-based)."""
        data = self._wait(lambda d: iteration < int(d["valid_until"]))
        chosen = data["schedule"][0]
        for entry in data["schedule"]:
            if entry["from_iter"] <= iteration:
                chosen = entry
            else:
                break
        return chosen["distribution"]
