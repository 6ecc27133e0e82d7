"""Turns a finished study's phase results into a table, a plot and a report.

The report states what was measured and nothing more: means over seeds, the
spread across seeds, and the per-seed numbers, with no claim of significance
that two or three seeds cannot support.
"""

from __future__ import annotations

import csv
import io
import os
from typing import Any

import numpy as np

from xferjax.data import features
from xferjax.data import pipeline as data_pipeline
from xferjax.study import pipeline
from xferjax.train import results_io

CONDITIONS = (pipeline.BASELINE, pipeline.WITH_INTERMEDIATE)
CONDITION_LABELS = {pipeline.BASELINE: "no intermediate (baseline)",
                    pipeline.WITH_INTERMEDIATE: "with intermediate"}


def collect_rows(study, phase_results: dict[str, Any]) -> list[dict[str, Any]]:
  """One tidy row per (seed, condition, language)."""
  rows = []
  for seed in study.seeds:
    for condition in CONDITIONS:
      evals = phase_results[f"seed{seed}/{condition}"]["eval"]
      for task in study.zero_shot_tasks:
        rows.append({"seed": seed, "condition": condition,
                     "language": pipeline.language_of(task), "task": task,
                     "accuracy": evals[task]["accuracy"],
                     "num_examples": evals[task]["num_examples"]})
  return rows


def summarise(rows: list[dict[str, Any]], seeds, languages) -> dict[str, Any]:
  """Per-language means, spreads and paired (same-seed) gains."""
  acc = {(r["seed"], r["condition"], r["language"]): r["accuracy"] for r in rows}
  per_language = {}
  for lang in languages:
    base = np.array([acc[(s, pipeline.BASELINE, lang)] for s in seeds])
    inter = np.array([acc[(s, pipeline.WITH_INTERMEDIATE, lang)] for s in seeds])
    gains = inter - base
    per_language[lang] = {
        "baseline_mean": float(base.mean()),
        "baseline_std": _std(base),
        "intermediate_mean": float(inter.mean()),
        "intermediate_std": _std(inter),
        "gain_mean": float(gains.mean()),
        "gain_std": _std(gains),
        "gain_per_seed": {str(s): float(g) for s, g in zip(seeds, gains)},
    }
  transfer = [l for l in languages if l != "en"]
  return {
      "per_language": per_language,
      "zero_shot_languages": transfer,
      "mean_gain_zero_shot": float(np.mean(
          [per_language[l]["gain_mean"] for l in transfer])) if transfer
                             else None,
      "mean_gain_en": per_language["en"]["gain_mean"]
                      if "en" in per_language else None,
  }


def _std(x: np.ndarray) -> float:
  """Sample standard deviation across seeds (0 with a single seed)."""
  return float(x.std(ddof=1)) if len(x) > 1 else 0.0


def _table_markdown(summary: dict[str, Any], languages, seeds) -> str:
  lines = [
      "| language | baseline acc. (mean ± sd) | with intermediate (mean ± sd) "
      "| gain (points) | gain per seed |",
      "|---|---|---|---|---|"]
  for lang in languages:
    s = summary["per_language"][lang]
    per_seed = ", ".join(f"{g:+.1f}" for g in s["gain_per_seed"].values())
    lines.append(
        f"| {lang}{' (training language)' if lang == 'en' else ''} "
        f"| {s['baseline_mean']:.1f} ± {s['baseline_std']:.1f} "
        f"| {s['intermediate_mean']:.1f} ± {s['intermediate_std']:.1f} "
        f"| {s['gain_mean']:+.1f} | {per_seed} |")
  return "\n".join(lines)


def _plot(summary: dict[str, Any], languages, path: str,
          num_labels: int) -> None:
  import matplotlib
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt

  x = np.arange(len(languages))
  width = 0.38
  fig, ax = plt.subplots(figsize=(1.3 * len(languages) + 2, 4))
  for offset, (condition, key) in zip(
      (-width / 2, width / 2),
      ((pipeline.BASELINE, "baseline"),
       (pipeline.WITH_INTERMEDIATE, "intermediate"))):
    means = [summary["per_language"][l][f"{key}_mean"] for l in languages]
    stds = [summary["per_language"][l][f"{key}_std"] for l in languages]
    ax.bar(x + offset, means, width, yerr=stds, capsize=3,
           label=CONDITION_LABELS[condition])
  ax.axhline(100.0 / num_labels, color="grey", linestyle=":", linewidth=1,
             label=f"chance ({num_labels} classes)")
  ax.set_xticks(x, languages)
  ax.set_ylabel("zero-shot accuracy (%)")
  ax.set_ylim(0, 100)
  ax.set_title("Target task accuracy by language (mean ± sd over seeds)")
  ax.legend(loc="upper right", fontsize=8)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def _headline(summary: dict[str, Any], seeds) -> str:
  zs = summary["mean_gain_zero_shot"]
  langs = summary["zero_shot_languages"]
  if zs is None:
    return "No zero-shot languages were evaluated."
  pos = [l for l in langs if summary["per_language"][l]["gain_mean"] > 0]
  consistent = [l for l in langs if all(
      g > 0 for g in summary["per_language"][l]["gain_per_seed"].values())]
  direction = "raised" if zs > 0 else "lowered" if zs < 0 else "did not change"
  return (
      f"Intermediate-task training {direction} zero-shot accuracy by "
      f"{zs:+.1f} points on average over {len(langs)} non-English languages "
      f"(mean over {len(seeds)} seeds). The mean gain was positive for "
      f"{len(pos)} of {len(langs)} languages, and positive in every seed for "
      f"{len(consistent)} of them. With {len(seeds)} seeds this is a "
      "measurement, not a significance test.")


def write_study_outputs(study, phase_results: dict[str, Any]) -> dict[str, Any]:
  languages = [pipeline.language_of(t) for t in study.zero_shot_tasks]
  seeds = list(study.seeds)
  rows = collect_rows(study, phase_results)
  summary = summarise(rows, seeds, languages)
  out = study.output_dir
  intermediate_eval = {
      f"seed{s}": phase_results[f"seed{s}/intermediate"]["eval"]
      for s in seeds}

  buf = io.StringIO()
  writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
  writer.writeheader()
  writer.writerows(rows)
  results_io.atomic_write_text(os.path.join(out, "results_table.csv"),
                               buf.getvalue())
  table = _table_markdown(summary, languages, seeds)
  results_io.atomic_write_text(os.path.join(out, "results_table.md"),
                               table + "\n")
  plot_path = os.path.join(out, "zero_shot_accuracy.png")
  num_labels = len(features.label_names_of(
      data_pipeline.get_task_or_mixture(study.target.task)))
  _plot(summary, languages, plot_path, num_labels)

  results = {
      "seeds": seeds,
      "languages": languages,
      "intermediate_task": study.intermediate.task,
      "target_task": study.target.task,
      "summary": summary,
      "intermediate_validation": intermediate_eval,
      "rows": rows,
  }
  results_io.write_json(os.path.join(out, "results.json"), results)
  report = "\n".join([
      "# xferjax study report",
      "",
      _headline(summary, seeds),
      "",
      f"- intermediate task: `{study.intermediate.task}` "
      f"({study.intermediate.num_steps} steps)",
      f"- target task: `{study.target.task}` "
      f"({study.target.num_steps} steps, English training data only)",
      f"- zero-shot evaluation: {', '.join(f'`{t}`' for t in study.zero_shot_tasks)}"
      f" ({study.target.eval_split} split)",
      f"- seeds: {', '.join(map(str, seeds))}; sd = sample standard deviation "
      "across seeds; gain = with-intermediate minus baseline, paired by seed",
      "",
      "## Zero-shot accuracy per language",
      "",
      table,
      "",
      "![zero-shot accuracy per language](zero_shot_accuracy.png)",
      "",
      "## Intermediate task (validation accuracy)",
      "",
      *[f"- seed {s}: " + ", ".join(
          f"`{t}` {m['accuracy']:.1f}" for t, m in
          intermediate_eval[f'seed{s}'].items()) for s in seeds],
      "",
      "Per-seed, per-language numbers: `results_table.csv`; each phase's "
      "config, metrics and checkpoints: its run directory.",
      "",
  ])
  results_io.atomic_write_text(os.path.join(out, "report.md"), report)
  return results
