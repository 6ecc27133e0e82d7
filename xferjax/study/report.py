"""The study's report: the answer first, then the numbers behind it.

`build` turns an `analysis.Analysis` into a list of blocks (heading,
paragraph, table, figure, list); `markdown` and `html` render the same
blocks, so report.md and the standalone report.html (figures embedded as
base64 PNG, SVG files alongside) always say the same thing. The first
paragraph answers the study's question, "is the gain from intermediate-task
training smaller above the threshold?", with its uncertainty, in words.
"""

from __future__ import annotations

import base64
import dataclasses
import html as html_lib
import os
from typing import Sequence

import pandas as pd

from xferjax.study import analysis as analysis_lib
from xferjax.study import plots
from xferjax.study.analysis import Estimate
from xferjax.train import results_io

TITLE = "xferjax study report"
# What `xferjax study --collect` used, so `xferjax report DIR` reproduces it.
SETTINGS_FILE = "report_settings.json"


@dataclasses.dataclass(frozen=True)
class Heading:
  text: str
  level: int = 2


@dataclasses.dataclass(frozen=True)
class Paragraph:
  text: str


@dataclasses.dataclass(frozen=True)
class Table:
  columns: tuple[str, ...]
  rows: tuple[tuple[str, ...], ...]


@dataclasses.dataclass(frozen=True)
class Figure:
  name: str  # files <name>.png and <name>.svg next to the report
  caption: str


@dataclasses.dataclass(frozen=True)
class Bullets:
  items: tuple[str, ...]


# ---- numbers in words --------------------------------------------------------

def points(x: float) -> str:
  return f"{x:+.2f}"


def estimate(e: Estimate, confidence: float = 0.95, unit: str = " points"
             ) -> str:
  return (f"{points(e.value)}{unit} ({confidence:.0%} CI {points(e.low)} "
          f"to {points(e.high)})")


def _upper_first(text: str) -> str:
  return text[:1].upper() + text[1:]


def _names(models: Sequence[str]) -> str:
  return ", ".join(models) if models else "none"


def _measured(a: analysis_lib.Analysis) -> str:
  s = a.summary
  seeds = sorted({len(v) for v in s["seeds"].values()})
  seeds_text = " or ".join(map(str, seeds))
  per_target = s["examples_per_target"]
  counts = sorted(set(per_target.values()))
  examples = (f"{counts[0]:,}" if len(counts) == 1 else ", ".join(
      f"{n:,} for {t}" for t, n in per_target.items())) if counts else None
  text = (f"Intervals are {a.options.confidence:.0%} paired-bootstrap "
          f"intervals ({s['n_boot']} resamples) over {seeds_text} seeds per "
          "model")
  text += (f" and the evaluation examples ({examples} per language)"
           if examples else " (no per-example scores: evaluation-set noise "
           "is not included)")
  return text + (", widened for the small number of seeds. Gains are in "
                 "points of each target task's primary metric over the same "
                 "model's baseline (no intermediate task, same seed), "
                 "averaged over target tasks and languages.")


def answer(a: analysis_lib.Analysis) -> str:
  """The first paragraph: the answer and its uncertainty, in plain words."""
  t = a.threshold
  conf = a.options.confidence
  limit = plots.format_count(t.threshold)
  below = (f"models below {limit} parameters ({_names(t.below)}) gain "
           f"{estimate(t.gain_below, conf)}" if t.gain_below else None)
  above = (f"models with at least {limit} parameters ({_names(t.above)}) "
           f"gain {estimate(t.gain_above, conf)}" if t.gain_above else None)
  sides = "; ".join(x for x in (above, below) if x)
  diff = (f"the difference (above minus below) is "
          f"{estimate(t.difference, conf)}" if t.difference else "")
  verdict = a.verdict
  if verdict == analysis_lib.SMALLER_ABOVE:
    text = (f"Yes: in this study the gain from intermediate-task training "
            f"is smaller for models with at least {limit} parameters. "
            f"{_upper_first(sides)}; {diff}, which is significant (its "
            "interval excludes zero).")
  elif verdict == analysis_lib.LARGER_ABOVE:
    text = (f"No: in this study the gain from intermediate-task training "
            f"is larger, not smaller, for models with at least {limit} "
            f"parameters. {_upper_first(sides)}; {diff}, which is significant "
            "(its interval excludes zero).")
  elif verdict == analysis_lib.NO_DIFFERENCE:
    text = (f"Not shown: intermediate-task training changes the zero-shot "
            f"score (overall {estimate(a.overall, conf)}), but this study "
            f"cannot tell whether the gain is smaller above {limit} "
            f"parameters: {sides}; {diff}, an interval that includes zero, "
            "so the difference is not significant.")
  elif verdict == analysis_lib.NO_GAIN:
    where = (f"neither below nor above {limit} parameters" if t.below and
             t.above else f"for its models, all with "
             f"{'fewer than' if t.below else 'at least'} {limit} parameters")
    tested = (f"tested at {t.gate_confidence:.1%} per side, "
              "Bonferroni-corrected" if t.below and t.above else
              f"tested at {t.gate_confidence:.0%}")
    text = (f"No measurable gain: intermediate-task training does not "
            f"change the zero-shot score distinguishably from zero, {where} "
            f"({sides}; overall {estimate(a.overall, conf)}; {tested}). "
            "Without a detectable gain, this study cannot say whether the "
            "gain diminishes with model size.")
  elif verdict == analysis_lib.ONE_SIDED:
    where = "fewer than" if t.below else "at least"
    text = (f"This study cannot answer whether the gain diminishes above "
            f"{limit} parameters: all its models have {where} {limit} "
            f"parameters. Across them, intermediate-task training changes "
            f"the zero-shot score by {estimate(a.overall, conf)}"
            + (", which is significant." if a.overall.significant else
               ", which is not distinguishable from zero."))
  else:  # NO_UNCERTAINTY
    text = (f"No uncertainty can be attached to these gains: every model "
            "ran a single seed and no per-example scores were recorded, so "
            f"the numbers below are point estimates only (overall "
            f"{points(a.overall.value)} points). Run at least two seeds "
            "per model to get intervals.")
  if verdict != analysis_lib.NO_UNCERTAINTY:
    text += " " + _measured(a)
  return text


def _size_text(a: analysis_lib.Analysis) -> str | None:
  if a.fits.empty:
    return None
  parts = []
  for f in a.fits.itertuples():
    b = f"{f.B:,.0f}"
    low = "<" if f.B_low_open else ""
    high = "or more" if f.B_high_open else ""
    b_ci = (f"{low}{f.B_low:,.0f} to {f.B_high:,.0f} {high}").strip()
    bends = ("the curve does not bend inside the measured sizes, so B is "
             "only bounded" if f.B_at_edge else
             f"half-saturation B = {b} examples (95% CI {b_ci})")
    parts.append(
        f"{f.model} on {f.intermediate_task} ({f.sizes} sizes, "
        f"{f.min_size:,} to {f.max_size:,} examples): asymptotic gain "
        f"A = {points(f.A)} points (95% CI {points(f.A_low)} to "
        f"{points(f.A_high)}), {bends}")
  return ("Gain vs intermediate data size, fitted per model with the "
          "saturating curve g(n) = A·n/(n + B) (A: the gain with unlimited "
          "data; B: the size at which half of it is reached): "
          + "; ".join(parts) + ".")


def _params_text(a: analysis_lib.Analysis) -> str:
  if a.slope is None:
    return "Every model has the same parameter count, so there is no gain " \
        "vs parameter count slope."
  return (f"Gain vs parameter count: the model gains change by "
          f"{estimate(a.slope, a.options.confidence)} per tenfold increase "
          "in parameters (least-squares slope on log10 parameters).")


# ---- tables ---------------------------------------------------------------------

def _ci(row) -> str:
  return f"{row.gain:+.2f} [{row.low:+.2f}, {row.high:+.2f}]"


def _table(df: pd.DataFrame, columns: dict[str, callable]) -> Table:
  rows = tuple(tuple(str(fn(r)) for fn in columns.values())
               for r in df.itertuples())
  return Table(tuple(columns), rows)


def tables(a: analysis_lib.Analysis) -> list:
  t = a.threshold
  conf = f"{a.options.confidence:.0%}"
  out = [Heading("Threshold test"), Table(
      ("group", "models", f"gain (points) [{conf} CI]"),
      tuple((name, _names(models), "—" if e is None else
             f"{e.value:+.2f} [{e.low:+.2f}, {e.high:+.2f}]")
            for name, models, e in (
                (f"below {plots.format_count(t.threshold)}", t.below,
                 t.gain_below),
                (f"at least {plots.format_count(t.threshold)}", t.above,
                 t.gain_above),
                ("difference (above − below)", t.below + t.above,
                 t.difference),
                ("all models", t.below + t.above, a.overall))))]
  out += [Heading("Gain per model"), _table(a.models.sort_values("params"), {
      "model": lambda r: r.model, "params": lambda r: f"{r.params:,}",
      "seeds": lambda r: r.seeds, "side": lambda r: r.side,
      f"gain [{conf} CI]": _ci})]
  out += [Heading("XTREME averages (Phang et al. 2020)"), Paragraph(
      "Score averaged over each target task's languages, then over target "
      "tasks. 'Best per target' picks, for each target task, the "
      "intermediate cell that scores best on it; 'best single' picks the one "
      "cell with the best average. Both choose on the numbers they report, "
      "so, as in the paper, they are optimistic when cells differ by noise "
      "only."), _table(a.xtreme.sort_values("params"), {
          "model": lambda r: r.model,
          "baseline": lambda r: f"{r.baseline:.2f}",
          "best per target": lambda r: f"{r.best_per_target:.2f} "
          f"({r.best_per_target_gain:+.2f})",
          "best single cell": lambda r: f"{r.best_single:.2f} "
          f"({r.best_single_gain:+.2f}): {r.best_single_cell}",
          "chosen per target": lambda r: r.best_per_target_cells})]
  out += [Heading("Gain per intermediate cell"), _table(
      a.cells.sort_values(["params", "intermediate_task", "n_examples"]), {
          "model": lambda r: r.model,
          "intermediate task": lambda r: r.intermediate_task,
          "examples": lambda r: f"{r.n_examples:,}",
          f"gain [{conf} CI]": _ci})]
  out += [Heading("Gain per intermediate cell and target task"), _table(
      a.cell_targets.sort_values(["model", "intermediate_task",
                                  "n_examples", "target_task"]), {
          "model": lambda r: r.model,
          "intermediate task": lambda r: r.intermediate_task,
          "examples": lambda r: f"{r.n_examples:,}",
          "target": lambda r: r.target_task,
          f"gain [{conf} CI]": _ci})]
  if len(a.fits):
    out += [Heading("Saturation fits: g(n) = A·n/(n + B)"), _table(a.fits, {
        "model": lambda r: r.model,
        "intermediate task": lambda r: r.intermediate_task,
        "sizes": lambda r: f"{r.sizes} ({r.min_size:,}–{r.max_size:,})",
        f"A (points) [{conf} CI]":
            lambda r: f"{r.A:+.2f} [{r.A_low:+.2f}, {r.A_high:+.2f}]",
        f"B (examples) [{conf} CI]": lambda r: (
            f"{r.B:,.0f} [{'≤' if r.B_low_open else ''}{r.B_low:,.0f}, "
            f"{'≥' if r.B_high_open else ''}{r.B_high:,.0f}]"
            + (" (at the search edge)" if r.B_at_edge else ""))})]
  out += [Heading("Gain per language"), _table(
      a.languages.sort_values(["target_task", "language", "params"]), {
          "target": lambda r: r.target_task, "language": lambda r: r.language,
          "model": lambda r: r.model,
          "baseline score": lambda r: f"{r.baseline:.2f}",
          # The gain is paired by seed and averaged over intermediate cells,
          # so baseline + gain is the mean score with intermediate training.
          "with intermediate": lambda r: f"{r.baseline + r.gain:.2f}",
          f"gain [{conf} CI]": _ci})]
  out += [Heading("Metrics"), _table(a.metrics, {
      "target": lambda r: r.target_task, "split": lambda r: r.split,
      "metric": lambda r: r.metric, "chosen by": lambda r: r.chosen_by,
      "other splits": lambda r: r.other_splits or "—"})]
  return out


def build(a: analysis_lib.Analysis, figures: Sequence[tuple[str, str]] = (),
          note: str = "") -> list:
  """The report's blocks; the first paragraph is `answer(a)`."""
  blocks = [Heading(TITLE, 1), Paragraph(answer(a))]
  if note:
    blocks.append(Paragraph(note))
  s = a.summary
  blocks.append(Bullets((
      "models: " + ", ".join(f"{m} ({plots.format_count(p)} parameters, "
                              f"seeds {s['seeds'][m]})"
                              for m, p in zip(s["models"], s["params"])),
      f"intermediate tasks: {', '.join(s['intermediate_tasks'])}; data "
      f"sizes: {', '.join(f'{n:,}' for n in s['data_sizes'])}",
      f"target tasks: {', '.join(s['target_tasks'])}; languages: "
      f"{', '.join(s['languages'])}",
      f"threshold: {plots.format_count(s['threshold'])} parameters; "
      f"{s['n_boot']} bootstrap resamples")))
  blocks.append(Paragraph(_params_text(a)))
  size = _size_text(a)
  if size:
    blocks.append(Paragraph(size))
  if figures:
    blocks.append(Heading("Figures"))
    blocks += [Figure(name, caption) for name, caption in figures]
  blocks += tables(a)
  if a.notes:
    blocks += [Heading("Notes"), Bullets(tuple(a.notes))]
  blocks += [Heading("Data"), Paragraph(
      "results.csv / results.parquet: one row per measured number (model, "
      "params, intermediate_task, n_examples, seed, target_task, language, "
      "split, metric, value); examples.csv / examples.parquet: per-example "
      "scores used by the bootstrap. Figures as PNG and SVG next to this "
      "report.")]
  return blocks


# ---- rendering -------------------------------------------------------------------

def _md_cell(text: str) -> str:
  return text.replace("|", "\\|").replace("\n", " ")


def markdown(blocks) -> str:
  out = []
  for b in blocks:
    if isinstance(b, Heading):
      out.append("#" * b.level + " " + b.text)
    elif isinstance(b, Paragraph):
      out.append(b.text)
    elif isinstance(b, Bullets):
      out.append("\n".join(f"- {i}" for i in b.items))
    elif isinstance(b, Table):
      lines = ["| " + " | ".join(map(_md_cell, b.columns)) + " |",
               "|" + "---|" * len(b.columns)]
      lines += ["| " + " | ".join(map(_md_cell, r)) + " |" for r in b.rows]
      out.append("\n".join(lines))
    elif isinstance(b, Figure):
      out.append(f"![{b.caption}]({b.name}.png)\n\n*{b.caption}* "
                 f"([SVG]({b.name}.svg))")
  return "\n\n".join(out) + "\n"


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto;
       padding: 0 1rem; line-height: 1.45; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: left; }
th { background: #f3f3f3; }
figure { margin: 1rem 0 2rem; } img { max-width: 100%; }
p.answer { font-size: 1.05rem; border-left: 4px solid #3a6ea5;
           padding-left: 0.8rem; }
"""


def html(blocks, figure_dir: str) -> str:
  """A standalone page: figures embedded as base64 PNG."""
  esc = html_lib.escape
  title = next((b.text for b in blocks if isinstance(b, Heading)), TITLE)
  body, first = [], True
  for b in blocks:
    if isinstance(b, Heading):
      body.append(f"<h{b.level}>{esc(b.text)}</h{b.level}>")
    elif isinstance(b, Paragraph):
      cls = ' class="answer"' if first else ""
      first = False
      body.append(f"<p{cls}>{esc(b.text)}</p>")
    elif isinstance(b, Bullets):
      body.append("<ul>" + "".join(f"<li>{esc(i)}</li>" for i in b.items)
                  + "</ul>")
    elif isinstance(b, Table):
      head = "".join(f"<th>{esc(c)}</th>" for c in b.columns)
      rows = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r)
                     + "</tr>" for r in b.rows)
      body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}"
                  "</tbody></table>")
    elif isinstance(b, Figure):
      with open(os.path.join(figure_dir, f"{b.name}.png"), "rb") as f:
        data = base64.b64encode(f.read()).decode("ascii")
      body.append(
          f'<figure><img alt="{esc(b.caption)}" '
          f'src="data:image/png;base64,{data}"><figcaption>{esc(b.caption)} '
          f'(<a href="{esc(b.name)}.svg">SVG</a>)</figcaption></figure>')
  return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          f"<title>{esc(title)}</title><style>{_STYLE}</style></head><body>\n"
          + "\n".join(body) + "\n</body></html>\n")


def write_report(output_dir: str, results: pd.DataFrame,
                 examples: pd.DataFrame | None,
                 options: analysis_lib.Options = analysis_lib.Options(),
                 note: str = "") -> dict[str, str]:
  """Analyses the tables and writes report.md, report.html and the figures
  into output_dir; returns {'md': path, 'html': path}."""
  a = analysis_lib.analyze(results, examples, options)
  os.makedirs(output_dir, exist_ok=True)
  figures = plots.all_figures(a, output_dir)
  blocks = build(a, figures, note)
  paths = {"md": os.path.join(output_dir, "report.md"),
           "html": os.path.join(output_dir, "report.html")}
  results_io.atomic_write_text(paths["md"], markdown(blocks))
  results_io.atomic_write_text(paths["html"], html(blocks, output_dir))
  return paths


def save_settings(output_dir: str, options: analysis_lib.Options,
                  note: str) -> None:
  results_io.write_json(os.path.join(output_dir, SETTINGS_FILE), {
      "threshold": options.threshold, "n_boot": options.n_boot,
      "note": note})


def load_settings(results_dir: str) -> dict:
  """{threshold, n_boot, note} saved by the study, or {}."""
  import json

  path = os.path.join(results_dir, SETTINGS_FILE)
  if not os.path.exists(path):
    return {}
  with open(path) as f:
    return json.load(f)


def first_paragraph(text: str) -> str:
  """The first paragraph after the title of a report.md (tests, tools)."""
  paragraphs = [p for p in text.split("\n\n") if p.strip()]
  return next(p for p in paragraphs if not p.startswith("#")).strip()


