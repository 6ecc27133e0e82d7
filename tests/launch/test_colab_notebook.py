"""launch/colab_tpu_demo.ipynb runs top to bottom on CPU with the tiny
configuration (the test flag skips its pip install: xferjax is installed),
and every code cell is explained by the markdown cell before it."""

import os

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import REPO

NOTEBOOK = os.path.join(REPO, "launch", "colab_tpu_demo.ipynb")


@pytest.fixture(scope="module")
def notebook():
  return nbformat.read(NOTEBOOK, as_version=4)


def test_every_code_cell_is_explained(notebook):
  nbformat.validate(notebook)
  cells = notebook.cells
  assert cells[0].cell_type == "markdown"
  for before, cell in zip(cells, cells[1:]):
    if cell.cell_type == "code":
      assert before.cell_type == "markdown" and len(before.source) > 40
      assert cell.source.startswith("# "), cell.source[:60]


def test_notebook_runs_on_cpu_with_the_tiny_config(notebook, tmp_path,
                                                   monkeypatch):
  monkeypatch.setenv("XFERJAX_NOTEBOOK_TEST", "1")
  monkeypatch.setenv("XFERJAX_NOTEBOOK_DIR", str(tmp_path))
  monkeypatch.setenv("JAX_PLATFORMS", "cpu")
  for name in ("XFERJAX_NOTEBOOK_TINY", "XLA_FLAGS", "JAX_NUM_CPU_DEVICES"):
    monkeypatch.delenv(name, raising=False)
  client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                          resources={"metadata": {"path": str(tmp_path)}})
  client.execute()  # raises CellExecutionError with the cell's traceback

  def text(cell):
    return "".join(o.get("text", "") + str(o.get("data", {}).get(
        "text/plain", "")) for o in cell.outputs)

  out = "\n".join(text(c) for c in notebook.cells if c.cell_type == "code")
  assert "pip skipped" in out
  assert "Note: no TPU found, so this runs on the CPU with the tiny " \
         "configuration." in out
  assert "[xferjax] report:" in out
  markdown = [o for c in notebook.cells if c.cell_type == "code"
              for o in c.outputs if "text/markdown" in o.get("data", {})]
  assert markdown and "parameters" in markdown[0]["data"]["text/markdown"]
  images = [o for c in notebook.cells if c.cell_type == "code"
            for o in c.outputs if "image/png" in o.get("data", {})]
  assert len(images) == 4  # the report's four plots
  assert "my_negation" in out and "negated" in out  # the user's task
  assert "my_negation: accuracy" in out
  assert (tmp_path / "study" / "results.csv").exists()
