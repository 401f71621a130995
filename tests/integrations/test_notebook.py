"""The notebook status view, in a real Jupyter kernel run by nbclient: the status is one display output,
updated in place, holding the trials table with their final states."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "notebook_quickstart.ipynb"


class CountingClient(nbclient.NotebookClient):
    """Counts the kernel's `update_display_data` messages (nbclient applies them to the stored output)."""

    updates = 0

    def process_message(self, msg, cell, cell_index):
        if msg["msg_type"] == "update_display_data":
            CountingClient.updates += 1
        return super().process_message(msg, cell, cell_index)


def run_notebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Execute the example in a kernel of this interpreter (a kernelspec in a private JUPYTER_PATH), with
    the working directory in `tmp_path`; returns the executed notebook and the number of updates."""
    spec_dir = tmp_path / "jupyter" / "kernels" / "tunelab-test"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "tunelab test", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(EXAMPLE.parents[1] / "src"), os.environ.get("PYTHONPATH", "")]))
    nb = nbformat.read(EXAMPLE, as_version=4)
    CountingClient.updates = 0
    client = CountingClient(nb, kernel_name="tunelab-test", timeout=120,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    return nb, CountingClient.updates


def test_status_is_one_output_updated_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nb, updates = run_notebook(tmp_path, monkeypatch)
    fit_cell = next(c for c in nb.cells if c.cell_type == "code" and "tuner.fit()" in c.source)
    displays = [o for o in fit_cell.outputs if o.output_type == "display_data"]
    assert len(displays) == 1  # one status output, not one per refresh
    assert updates >= 1  # the final state came as an update of that output
    status = displays[0].data["text/html"]
    rows = re.findall(r"<tr><td>(objective_[^<]*)</td><td>([A-Z]+)</td><td>(\d+)</td>", status)
    assert len(rows) == 4 and all(state == "TERMINATED" and iteration == "5" for _, state, iteration in rows)
    assert "4/4 trials finished" in status and "Current best trial:" in status
    assert "== Status ==" in displays[0].data["text/plain"]  # the seed's block for non-HTML front ends
    printed = "".join(o.get("text", "") for o in fit_cell.outputs if o.output_type == "stream")
    assert "== Status ==" not in printed  # no block printed beside the table
    last = nb.cells[-1].outputs
    assert re.search(r"best x: [\d.]+, loss: [\d.]+", "".join(o.get("text", "") for o in last))
    assert (tmp_path / "results" / "notebook_quickstart").is_dir()


def test_a_script_outside_a_kernel_prints_the_text_block(tmp_path: Path) -> None:
    script = ("import tunelab, tunelab.progress as p\n"
              "def f(config):\n    tunelab.report({'loss': 1.0})\n"
              "tunelab.run(f, local_dir='.', verbose=1)\n"
              "import sys; print('ipython imported:', 'IPython' in sys.modules, 'notebook:', p.in_notebook())\n")
    env = {**os.environ, "PYTHONPATH": str(EXAMPLE.parents[1] / "src")}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "== Status ==" in out.stdout and "ipython imported: False notebook: False" in out.stdout
