"""report.md and the standalone report.html: figures, first paragraph,
`xferjax report RESULTS_DIR`, and the same words in both formats."""

import base64
import html.parser
import json

import pytest

from planted_tables import planted_tables
from xferjax import cli
from xferjax.study import analysis, report

EXPECTED = {
    "saturating": "Yes: in this study the gain from intermediate-task "
                  "training is smaller for models with at least 1B",
    "no_gain": "No measurable gain:",
}
FIGURES = {"gain_heatmap", "gain_vs_params", "gain_vs_data_size",
           "gain_per_language"}


class _Page(html.parser.HTMLParser):
  """Collects the embedded images and the first paragraph's text."""

  def __init__(self):
    super().__init__()
    self.images, self.paragraphs, self._in_p = [], [], False
    self.title = ""
    self._in_title = False

  def handle_starttag(self, tag, attrs):
    attrs = dict(attrs)
    if tag == "img":
      self.images.append(attrs["src"])
    elif tag == "p":
      self._in_p = True
      self.paragraphs.append("")
    elif tag == "title":
      self._in_title = True

  def handle_endtag(self, tag):
    if tag == "p":
      self._in_p = False
    elif tag == "title":
      self._in_title = False

  def handle_data(self, data):
    if self._in_p:
      self.paragraphs[-1] += data
    if self._in_title:
      self.title += data


def parse_report_html(path) -> _Page:
  page = _Page()
  with open(path) as f:
    page.feed(f.read())
  page.close()
  return page


def check_report(out_dir, opening: str) -> str:
  """Asserts report.md/html agree and embed every figure; returns the
  first paragraph (shared by the e2e study test)."""
  md = (out_dir / "report.md").read_text()
  first = report.first_paragraph(md)
  assert first.startswith(opening), first[:200]
  page = parse_report_html(out_dir / "report.html")
  assert page.title == report.TITLE
  assert page.paragraphs[0] == first
  assert len(page.images) == len(FIGURES)
  for src in page.images:
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix)
    assert base64.b64decode(src[len(prefix):])[:8] == b"\x89PNG\r\n\x1a\n"
  for name in FIGURES:
    assert (out_dir / f"{name}.svg").read_text().lstrip().startswith("<?xml")
    assert f"({name}.png)" in md
  return first


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_report_files(tmp_path, scenario):
  results, examples = planted_tables(scenario, seed=7,
                                     intermediate_tasks=("mnli", "qqp"),
                                     target_tasks=("pawsx", "xnli"))
  report.write_report(str(tmp_path), results, examples,
                      analysis.Options(n_boot=200))
  check_report(tmp_path, EXPECTED[scenario])
  md = (tmp_path / "report.md").read_text()
  for heading in ("## Threshold test", "## XTREME averages",
                  "## Saturation fits", "## Gain per language"):
    assert heading in md


def test_report_command_reads_tables_and_saved_settings(tmp_path, capsys):
  results, examples = planted_tables("saturating", seed=3)
  results.to_csv(tmp_path / "results.csv", index=False)
  examples.to_parquet(tmp_path / "examples.parquet", index=False)
  # What `xferjax study --collect` saved: the threshold and the note.
  (tmp_path / report.SETTINGS_FILE).write_text(json.dumps(
      {"threshold": 5e8, "n_boot": 100, "note": "A planted study."}))
  assert cli.main(["report", str(tmp_path)]) == 0
  md = (tmp_path / "report.md").read_text()
  assert "500M parameters" in report.first_paragraph(md)
  assert "A planted study." in md and "100 bootstrap resamples" in md
  # Flags override the saved settings.
  out = tmp_path / "again"
  assert cli.main(["report", str(tmp_path), "--threshold=1e9",
                   f"--output_dir={out}", "--n_boot=50"]) == 0
  assert "1B parameters" in report.first_paragraph(
      (out / "report.md").read_text())
  assert "report.md" in capsys.readouterr().out
