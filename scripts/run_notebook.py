#!/usr/bin/env python3
"""Execute notebooks top to bottom on a Jupyter kernel (the project's Deno kernel) and keep EVERY output.

Why not `jupyter nbconvert --execute` / nbclient: the Deno kernel sometimes publishes an output on
IOPub after it has already reported `idle` for the cell; nbclient stops listening at `idle` and
silently drops it. This runner talks to the kernel with jupyter_client directly, attributes every
IOPub message to its cell by the parent msg_id (not by arrival order), and keeps listening for a grace
period after `idle`, extended by each message that arrives. It counts such late outputs per cell.

Usage:
  run_notebook.py NOTEBOOK.ipynb [...] (--out-dir DIR | --out FILE | --in-place)
                  [--kernel deno] [--timeout 600] [--grace 0.15] [--require-output] [--allow-errors]

Exit status: 0 all cells ran; 1 a cell failed (or, with --require-output, a code cell that should
have output has none; tag a cell "no-output" in its metadata when none is expected); 2 bad usage or
the kernel could not start. The executed copy is written even on failure (cells up to and including
the failing one keep their outputs). One JSON summary line per notebook goes to stdout.
"""

import argparse
import json
import os
import queue
import sys
import time

try:
    import nbformat
    from jupyter_client.kernelspec import NoSuchKernel
    from jupyter_client.manager import KernelManager
except ImportError as e:  # pragma: no cover - environment problem
    sys.stderr.write(
        f"run_notebook.py: {e}. Install Jupyter's client libraries: "
        "apt-get install -y jupyter-client python3-nbclient (Debian) or pip install jupyter_client nbformat\n"
    )
    sys.exit(2)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NO_OUTPUT_TAG = "no-output"


class CellFailed(Exception):
    pass


def _ensure_kernelspec_path():
    """Make the project-local kernelspec (REPO/kernels/deno) visible through JUPYTER_PATH."""
    paths = [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    if REPO not in paths:
        os.environ["JUPYTER_PATH"] = os.pathsep.join([REPO] + paths)


class Collector:
    """Turns IOPub messages into nbformat outputs, per cell, honouring display updates and clears."""

    def __init__(self, cells):
        self.cells = cells
        self.by_msg = {}  # msg_id -> cell index
        self.idle = {}  # msg_id -> monotonic time its idle status was seen
        self.max_late = 0.0  # longest delay (s) between a cell's idle and one of its outputs
        self.late = {}  # cell index -> outputs that arrived after idle
        self.displays = {}  # display_id -> list of output dicts (shared references)
        self.clear_pending = {}  # cell index -> clear_output(wait=True) pending

    def register(self, msg_id, index):
        self.by_msg[msg_id] = index
        self.cells[index]["outputs"] = []

    def _append(self, index, out):
        cell = self.cells[index]
        if self.clear_pending.pop(index, False):
            cell["outputs"] = []
        outs = cell["outputs"]
        if (
            out["output_type"] == "stream"
            and outs
            and outs[-1]["output_type"] == "stream"
            and outs[-1]["name"] == out["name"]
        ):
            outs[-1]["text"] += out["text"]
        else:
            outs.append(out)

    def handle(self, msg):
        """Returns the msg_id the message belongs to (or None when it is not ours)."""
        parent = msg.get("parent_header", {}).get("msg_id")
        if parent not in self.by_msg:
            return None
        index = self.by_msg[parent]
        kind = msg["header"]["msg_type"]
        content = msg["content"]
        out = None
        if kind == "status":
            if content.get("execution_state") == "idle":
                self.idle.setdefault(parent, time.monotonic())
            return parent
        if kind == "stream":
            out = nbformat.v4.new_output("stream", name=content["name"], text=content["text"])
        elif kind in ("display_data", "execute_result"):
            kw = dict(data=content.get("data", {}), metadata=content.get("metadata", {}))
            if kind == "execute_result":
                kw["execution_count"] = content.get("execution_count")
            out = nbformat.v4.new_output(kind, **kw)
            did = (content.get("transient") or {}).get("display_id")
            if did:
                self.displays.setdefault(did, []).append(out)
        elif kind == "update_display_data":
            did = (content.get("transient") or {}).get("display_id")
            for o in self.displays.get(did, []):
                o["data"] = content.get("data", {})
                o["metadata"] = content.get("metadata", {})
        elif kind == "error":
            out = nbformat.v4.new_output(
                "error",
                ename=content.get("ename", ""),
                evalue=content.get("evalue", ""),
                traceback=content.get("traceback", []),
            )
        elif kind == "clear_output":
            if content.get("wait"):
                self.clear_pending[index] = True
            else:
                self.cells[index]["outputs"] = []
        if out is not None:
            if parent in self.idle:
                self.late[index] = self.late.get(index, 0) + 1
                self.max_late = max(self.max_late, time.monotonic() - self.idle[parent])
            self._append(index, out)
        return parent


def _drain(kc, collector, until, grace):
    """Read IOPub until `until()` is true, then keep reading while messages arrive within `grace` s."""
    while not until():
        try:
            msg = kc.get_iopub_msg(timeout=1)
        except queue.Empty:
            if not kc.is_alive():
                raise CellFailed("the kernel died")
            continue
        collector.handle(msg)
    deadline = time.monotonic() + grace
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        try:
            msg = kc.get_iopub_msg(timeout=left)
        except queue.Empty:
            return
        if collector.handle(msg) is not None:
            deadline = time.monotonic() + grace


def _source_head(cell):
    src = cell.get("source", "")
    src = "".join(src) if isinstance(src, list) else src
    first = src.strip().splitlines()[0] if src.strip() else ""
    return first[:80]


def run_notebook(path, out_path, kernel, timeout, grace, require_output, allow_errors):
    nb = nbformat.read(path, as_version=4)
    nb_dir = os.path.dirname(os.path.abspath(path))
    env = dict(os.environ, NO_COLOR="1")
    km = KernelManager(kernel_name=kernel)
    t0 = time.monotonic()
    try:
        km.start_kernel(cwd=nb_dir, env=env)
    except NoSuchKernel:
        raise SystemExit(
            f"run_notebook.py: no kernelspec named {kernel!r}. Install Deno's (deno jupyter --install) "
            f"or keep {REPO}/kernels/{kernel}/kernel.json (this script adds {REPO} to JUPYTER_PATH)."
        )
    kc = km.client()
    kc.start_channels()
    summary = {
        "notebook": path,
        "executed": out_path,
        "cells": len(nb.cells),
        "code_cells": 0,
        "outputs": 0,
        "late_outputs": 0,
        "late_cells": [],
        "empty_cells": [],
        "errors": [],
        "cell_seconds": [],
        "seconds": 0.0,
    }
    collector = Collector(nb.cells)
    failed = None
    try:
        kc.wait_for_ready(timeout=120)
        info = kc.kernel_info(reply=True, timeout=30)["content"]
        nb.metadata["kernelspec"] = {
            "name": kernel,
            "display_name": km.kernel_spec.display_name,
            "language": km.kernel_spec.language,
        }
        if "language_info" in info:
            nb.metadata["language_info"] = info["language_info"]
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            summary["code_cells"] += 1
            cell.execution_count = None
            c0 = time.monotonic()
            msg_id = kc.execute(cell.source, store_history=True, allow_stdin=False)
            collector.register(msg_id, index)
            reply = None
            end = time.monotonic() + timeout
            # The reply (shell) and idle (iopub) both must arrive; wait for both.
            while reply is None:
                left = end - time.monotonic()
                if left <= 0:
                    raise CellFailed(f"cell {index} timed out after {timeout} s")
                try:
                    msg = kc.get_shell_msg(timeout=min(left, 1))
                except queue.Empty:
                    if not kc.is_alive():
                        raise CellFailed(f"the kernel died while running cell {index}")
                    continue
                if msg.get("parent_header", {}).get("msg_id") == msg_id:
                    reply = msg["content"]
            _drain(kc, collector, lambda: msg_id in collector.idle or time.monotonic() > end, grace)
            cell.execution_count = reply.get("execution_count")
            for o in cell.outputs:
                if o.get("output_type") == "execute_result":
                    o["execution_count"] = cell.execution_count
            summary["cell_seconds"].append(round(time.monotonic() - c0, 3))
            if reply.get("status") == "error":
                err = f"cell {index} ({_source_head(cell)!r}): {reply.get('ename')}: {reply.get('evalue')}"
                summary["errors"].append(err)
                if not allow_errors:
                    failed = err
                    break
        # A last grace period catches outputs published after the final idle.
        _drain(kc, collector, lambda: True, grace)
    except CellFailed as e:
        failed = str(e)
        summary["errors"].append(failed)
    finally:
        try:
            kc.stop_channels()
            km.shutdown_kernel(now=False)
        except Exception:  # noqa: BLE001 - shutting down a dead kernel must not hide the real error
            km.shutdown_kernel(now=True)

    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        summary["outputs"] += len(cell.get("outputs", []))
        tags = cell.get("metadata", {}).get("tags", [])
        if (
            cell.get("source", "").strip()
            and not cell.get("outputs")
            and NO_OUTPUT_TAG not in tags
            and cell.execution_count is not None
        ):
            summary["empty_cells"].append(index)
    summary["late_outputs"] = sum(collector.late.values())
    summary["late_cells"] = sorted(collector.late)
    summary["max_late_ms"] = round(collector.max_late * 1000, 1)
    summary["seconds"] = round(time.monotonic() - t0, 3)
    if require_output and summary["empty_cells"] and failed is None:
        failed = (
            f"code cells {summary['empty_cells']} produced no output; give them output or tag them "
            f"{NO_OUTPUT_TAG!r} in the cell metadata"
        )
        summary["errors"].append(failed)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    tmp = out_path + ".tmp"
    nbformat.write(nb, tmp)
    os.replace(tmp, out_path)
    summary["ok"] = failed is None
    return summary, failed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="+")
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--out-dir")
    where.add_argument("--out")
    where.add_argument("--in-place", action="store_true")
    ap.add_argument("--kernel", default="deno")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per cell")
    ap.add_argument("--grace", type=float, default=0.1, help="seconds to keep listening after idle")
    ap.add_argument("--require-output", action="store_true")
    ap.add_argument("--allow-errors", action="store_true")
    args = ap.parse_args()
    if args.out and len(args.notebooks) != 1:
        ap.error("--out takes exactly one notebook; use --out-dir for several")
    _ensure_kernelspec_path()
    status = 0
    for path in args.notebooks:
        if not os.path.isfile(path):
            sys.stderr.write(f"run_notebook.py: no such notebook: {path}\n")
            return 2
        if args.in_place:
            out = path
        elif args.out:
            out = args.out
        else:
            out = os.path.join(args.out_dir, os.path.basename(path))
        summary, failed = run_notebook(
            path, out, args.kernel, args.timeout, args.grace, args.require_output, args.allow_errors
        )
        print(json.dumps(summary), flush=True)
        if failed:
            sys.stderr.write(f"{path}: {failed}\n")
            status = 1
            break
    return status


if __name__ == "__main__":
    sys.exit(main())
