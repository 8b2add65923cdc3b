"""The batch driver: execute the numbered notebooks with papermill for one profile.

``python -m repro reproduce --profile cpu`` runs ``notebooks/NN_*.ipynb`` in order. Each notebook
gets only the parameters its ``parameters`` cell declares, taken from ``repro/base/profiles.yaml`` (:mod:`repro.base.profiles`).
Executed copies go to ``<out>/executed/``; tables and figures are written by the notebooks
themselves (``repro.paper.outputs``); at the end ``<out>/README.md`` indexes every table and figure with
the notebook, profile, parameters, wall time and git commit that produced it, and ``<out>/CLAIMS.md``
gathers the claim verdicts of all tables (:mod:`repro.paper.claims_page`). A failing notebook
does not stop the batch; the command exits non-zero at the end and names the failing cell.
``<out>`` is ``paper_tables/`` for ``cpu`` and ``paper_tables/<profile>/`` otherwise.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from repro.base import paths
from repro.paper.claims_page import PAGE_NAME as CLAIMS_PAGE, write_claims_page
from repro.base.profiles import load_profiles, profile_parameters  # noqa: F401
from repro.paper.claims import CLAIMS_SUFFIX

KERNEL_NAME = "sia-repro"
_NOTEBOOK_RE = re.compile(r"^(\d\d)_.*\.ipynb$")


def notebooks(only: list[str] | None = None) -> list[Path]:
    """The numbered notebooks in order, optionally only those whose number is in ``only``."""
    found = sorted(p for p in paths.NOTEBOOK_DIR.glob("*.ipynb") if _NOTEBOOK_RE.match(p.name))
    if only:
        want = {o.strip().zfill(2) for o in only if o.strip()}
        unknown = want - {p.name[:2] for p in found}
        if unknown:
            raise ValueError(f"no notebook numbered {', '.join(sorted(unknown))}; have {', '.join(p.name[:2] for p in found)}")
        found = [p for p in found if p.name[:2] in want]
    return found


def declared_parameters(nb_path: Path) -> dict:
    """Names and defaults declared in the notebook's ``parameters`` cell."""
    import papermill as pm

    import ast

    out = {}
    for k, v in pm.inspect_notebook(str(nb_path)).items():
        try:
            out[k] = ast.literal_eval(v.get("default"))
        except (ValueError, SyntaxError, TypeError):
            out[k] = v.get("default")
    return out


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=paths.REPO_ROOT, capture_output=True,
                             text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=paths.REPO_ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "") if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _kernel_name() -> str:
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        if KERNEL_NAME in KernelSpecManager().find_kernel_specs():
            return KERNEL_NAME
    except Exception:  # pragma: no cover - jupyter_client missing is reported by papermill itself
        pass
    return "python3"


_SCRUBS = None


def scrub_text(text: str) -> str:
    """Remove machine paths from notebook output text (repo root, venv, home, temp dirs)."""
    global _SCRUBS
    if _SCRUBS is None:
        root = str(paths.REPO_ROOT)
        _SCRUBS = [(re.compile(re.escape(sys.prefix) + r"/"), "<venv>/"), (re.compile(re.escape(root) + r"/?"), ""),
                   (re.compile(re.escape(str(paths.CACHE_DIR)) + r"/?"), "$REPRO_CACHE_DIR/"),
                   (re.compile(r"/(?:root|home/[^/\s]+|tmp)/[^\s'\"]*"), "<path>")]
    for rx, rep in _SCRUBS:
        text = rx.sub(rep, text)
    return text


def scrub_notebook(nb_path: Path) -> None:
    """Rewrite ``nb_path`` with machine paths removed from outputs and papermill metadata."""
    nb = json.loads(Path(nb_path).read_text())
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = [scrub_text(t) for t in (out["text"] if isinstance(out["text"], list) else [out["text"]])]
            for key in ("text/plain", "text/html", "text/markdown"):
                data = out.get("data", {})
                if key in data:
                    v = data[key]
                    data[key] = [scrub_text(t) for t in v] if isinstance(v, list) else scrub_text(v)
            if "traceback" in out:
                out["traceback"] = [scrub_text(t) for t in out["traceback"]]
    pm_meta = nb.get("metadata", {}).get("papermill", {})
    for key in ("input_path", "output_path"):
        if key in pm_meta and pm_meta[key]:
            pm_meta[key] = scrub_text(str(pm_meta[key]))
    Path(nb_path).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def run_notebook(nb_path: Path, out_path: Path, parameters: dict, *, timeout: int | None = None) -> dict:
    """Execute one notebook; returns {status, seconds, error, cell}."""
    import papermill as pm

    t0 = time.time()
    status, error, cell = "ok", None, None
    rel_in, rel_out = os.path.relpath(nb_path, paths.REPO_ROOT), os.path.relpath(out_path, paths.REPO_ROOT)
    cwd = os.getcwd()
    os.chdir(paths.REPO_ROOT)
    # the kernel (started in notebooks/) uses this process's cache, wherever that is
    os.environ.setdefault("REPRO_CACHE_DIR", str(paths.CACHE_DIR))
    try:
        pm.execute_notebook(rel_in, rel_out, parameters=parameters, kernel_name=_kernel_name(),
                            cwd=str(paths.NOTEBOOK_DIR), progress_bar=False, execution_timeout=timeout)
    except pm.PapermillExecutionError as e:
        status, error, cell = "failed", f"{e.ename}: {e.evalue}", e.exec_count
    except Exception as e:  # kernel died, timeout, bad notebook: report, keep the batch going
        status, error = "failed", f"{type(e).__name__}: {e}"
    finally:
        os.chdir(cwd)
    if out_path.exists():
        scrub_notebook(out_path)
    return {"status": status, "seconds": round(time.time() - t0, 1), "error": error, "cell": cell}


def check_arguments(profile: str, only: list[str] | None = None, *, inplace: bool = False,
                    timeout: int | None = None) -> tuple[dict, list[Path]]:
    """The profile's parameters and the notebooks to run; one ``ValueError`` (nothing written)
    when an argument is wrong: an unknown profile, an ``only`` naming no existing notebook,
    ``inplace`` outside the smoke profile, or a ``timeout`` (seconds per cell) below 1."""
    if only is not None and not [o for o in only if str(o).strip()]:
        raise ValueError("--only must name at least one notebook number, e.g. --only 05,06")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 1):
        raise ValueError(f"--timeout must be a whole number of seconds >= 1, got {timeout!r}")
    params = profile_parameters(profile)
    if inplace and profile != "smoke":
        raise ValueError(f"--inplace stores outputs in notebooks/ and is only for the smoke profile, not {profile!r}")
    nbs = notebooks(only)
    if not nbs:
        raise ValueError(f"no numbered notebooks (NN_*.ipynb) found in {paths.relpath(paths.NOTEBOOK_DIR)}")
    return params, nbs


def reproduce(profile: str = "cpu", only: list[str] | None = None, *, inplace: bool = False,
              timeout: int | None = None) -> int:
    """Run the batch; returns the process exit code (0 when every notebook succeeded).

    Arguments are checked first (:func:`check_arguments`): a bad one raises ``ValueError``
    before any folder or file is created."""
    params, nbs = check_arguments(profile, only, inplace=inplace, timeout=timeout)
    out = paths.output_dir(profile)
    executed = out / "executed"
    executed.mkdir(parents=True, exist_ok=True)
    index_path = out / ".index.json"
    log_path = out / ".runs.json"
    runs = json.loads(log_path.read_text()) if log_path.exists() else {}
    commit = git_commit()
    failures = 0
    # the kernels inherit the environment: no progress bars in stored outputs (the driver reports progress)
    os.environ.setdefault("TQDM_DISABLE", "1")
    for nb in nbs:
        declared = declared_parameters(nb)
        inject = {k: v for k, v in params.items() if k in declared}
        if inplace:  # stored notebooks carry smoke outputs from their own defaults
            inject = {k: v for k, v in inject.items() if declared.get(k) != v}
        target = nb if inplace else executed / nb.name
        before = json.loads(index_path.read_text()) if index_path.exists() else {}
        print(f"[{profile}] {nb.name} ({', '.join(f'{k}={v}' for k, v in inject.items()) or 'defaults'}) ...", flush=True)
        res = run_notebook(nb, target, inject, timeout=timeout)
        after = json.loads(index_path.read_text()) if index_path.exists() else {}
        produced = sorted(k for k, v in after.items() if before.get(k) != v)
        res.update({"parameters": inject, "commit": commit, "produced": produced,
                    "finished": time.strftime("%Y-%m-%d %H:%M:%S")})
        # a re-run served from the cache is fast; keep the longest ok run with the same parameters
        # (the one that filled the cache) so the index still says what a cold run costs
        prev = runs.get(nb.name, {})
        res["longest_seconds"] = res["seconds"]
        if res["status"] == "ok" and prev.get("status") == "ok" and prev.get("parameters") == inject:
            res["longest_seconds"] = max(res["seconds"], prev.get("longest_seconds", prev["seconds"]))
        runs[nb.name] = res
        log_path.write_text(json.dumps(runs, indent=1, sort_keys=True, default=str) + "\n")
        if res["status"] == "ok":
            print(f"    ok in {res['seconds']} s; produced {', '.join(produced) or 'nothing'}", flush=True)
        else:
            failures += 1
            where = f" in cell {res['cell']}" if res["cell"] is not None else ""
            print(f"    FAILED{where} after {res['seconds']} s: {res['error']}", flush=True)
    write_index(profile)
    write_claims_page(profile)
    print(f"{len(nbs) - failures} notebooks ok, {failures} failed; index: {paths.relpath(out / 'README.md')}")
    return 1 if failures else 0


def _index_files(out: Path, name: str, kind: str) -> str:
    """The index cell of one recorded table or figure: links to its files; a table's row also links its
    claims file (``<name>_claims.csv``, written by ``repro.paper.publish.publish`` and not recorded on its own)."""
    names = [f"{name}.{ext}" for ext in (("csv", "md") if kind == "table" else ("png",))]
    if kind == "table" and (out / f"{name}{CLAIMS_SUFFIX}").exists():
        names.append(f"{name}{CLAIMS_SUFFIX}")
    return ", ".join(f"[{n}]({n})" for n in names)


def write_index(profile: str) -> Path:
    """Write ``<out>/README.md``: every table/figure with the run that produced it, and a link to the
    claims page (``CLAIMS.md``, which :func:`reproduce` writes right after the index)."""
    out = paths.output_dir(profile)
    index = json.loads((out / ".index.json").read_text()) if (out / ".index.json").exists() else {}
    runs = json.loads((out / ".runs.json").read_text()) if (out / ".runs.json").exists() else {}
    producer = {name: nb for nb, r in runs.items() for name in r.get("produced", [])}
    lines = [f"# Regenerated tables and figures (profile `{profile}`)", "",
             "Written by `python -m repro reproduce`; do not edit by hand. Published numbers sit beside ours in "
             "each table (columns marked `paper`).", "",
             f"Whether the paper's claims hold in our numbers, table by table: [{CLAIMS_PAGE}]({CLAIMS_PAGE}).", "",
             "## Notebook runs", "",
             "Wall time of the last run, and of the longest run with the same parameters (the one that filled the "
             "cache: what a cold run costs).", "",
             "| notebook | status | wall time (s) | longest, same parameters (s) | commit | finished | parameters |",
             "|---|---|---|---|---|---|---|"]
    for nb, r in sorted(runs.items()):
        status = r["status"] if r["status"] == "ok" else f"FAILED (cell {r.get('cell')}: {r.get('error')})"
        ptxt = ", ".join(f"{k}={v}" for k, v in sorted(r.get("parameters", {}).items())) or "notebook defaults"
        longest = r.get("longest_seconds", r["seconds"])
        lines.append(f"| `{nb}` | {status} | {r['seconds']} | {longest} | {r['commit']} | {r['finished']} | {ptxt} |")
    lines += ["", "## Tables and figures", "", "| file | kind | notebook | caption |", "|---|---|---|---|"]
    for name, meta in sorted(index.items()):
        files = _index_files(out, name, meta["kind"])
        cap = (meta.get("caption") or "").split("\n")[0].replace("|", "\\|")
        lines.append(f"| {files} | {meta['kind']} | `{producer.get(name, '?')}` | {cap} |")
    path = out / "README.md"
    path.write_text("\n".join(lines) + "\n")
    return path
