"""Per-language zero-shot table, plot and report from the results table.

The report states what was measured and nothing more: means over seeds, the
spread across seeds, and per-seed gains, with no claim of significance.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from xferjax.study import pipeline
from xferjax.train import results_io


def _primary(results: pd.DataFrame) -> pd.DataFrame:
  return results[results["metric"] == "accuracy"]


def gains_table(results: pd.DataFrame) -> pd.DataFrame:
  """Mean/sd over seeds per (model, condition, target, language), with the
  gain over the same model's baseline paired by seed."""
  acc = _primary(results).copy()
  acc["condition"] = np.where(
      acc["intermediate_task"] == pipeline.NO_INTERMEDIATE, "baseline",
      acc["intermediate_task"] + " n=" + acc["n_examples"].astype(str))
  keys = ["model", "target_task", "language", "seed"]
  base = acc[acc["condition"] == "baseline"].set_index(keys)["value"]
  acc["gain"] = acc["value"].to_numpy() - base.reindex(
      pd.MultiIndex.from_frame(acc[keys])).to_numpy()
  grouped = acc.groupby(["model", "condition", "target_task", "language"],
                        sort=False)
  table = grouped.agg(mean=("value", "mean"), sd=("value", "std"),
                      gain=("gain", "mean"), gain_sd=("gain", "std"),
                      seeds=("seed", "nunique")).reset_index()
  return table.fillna({"sd": 0.0, "gain_sd": 0.0})


def _markdown(table: pd.DataFrame) -> str:
  lines = ["| model | condition | target | language | accuracy (mean ± sd) "
           "| gain vs baseline (points, mean ± sd) |",
           "|---|---|---|---|---|---|"]
  for r in table.itertuples():
    gain = "—" if r.condition == "baseline" else f"{r.gain:+.1f} ± {r.gain_sd:.1f}"
    lines.append(f"| {r.model} | {r.condition} | {r.target_task} | "
                 f"{r.language} | {r.mean:.1f} ± {r.sd:.1f} | {gain} |")
  return "\n".join(lines)


def _plot(table: pd.DataFrame, path: str) -> None:
  import matplotlib
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt

  panels = list(table.groupby(["model", "target_task"], sort=False))
  fig, axes = plt.subplots(len(panels), 1, squeeze=False,
                           figsize=(9, 3.2 * len(panels)))
  for ax, ((model, target), part) in zip(axes[:, 0], panels):
    languages = list(dict.fromkeys(part["language"]))
    conditions = list(dict.fromkeys(part["condition"]))
    width = 0.8 / len(conditions)
    x = np.arange(len(languages))
    for i, condition in enumerate(conditions):
      rows = part[part["condition"] == condition].set_index("language")
      ax.bar(x + (i - (len(conditions) - 1) / 2) * width,
             rows.loc[languages, "mean"], width,
             yerr=rows.loc[languages, "sd"], capsize=2, label=condition)
    ax.set_xticks(x, languages)
    ax.set_ylim(0, 100)
    ax.set_ylabel("zero-shot accuracy (%)")
    ax.set_title(f"{model}: {target} (mean ± sd over seeds)")
    ax.legend(fontsize=7, loc="upper right")
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def write_report(study, results: pd.DataFrame,
                 examples: pd.DataFrame) -> None:
  del examples
  out = study.output_dir
  table = gains_table(results)
  _plot(table, os.path.join(out, "zero_shot_accuracy.png"))
  non_en = table[(table["condition"] != "baseline") &
                 (table["language"] != "en")]
  headline = "No intermediate-task cells have finished yet."
  if not non_en.empty:
    best = non_en.groupby(["model", "condition"])["gain"].mean()
    parts = [f"{m} / {c}: {g:+.1f}" for (m, c), g in best.items()]
    headline = ("Mean zero-shot gain of intermediate training over the "
                "baseline, averaged over non-English languages "
                f"(points; {results['seed'].nunique()} seeds): "
                + "; ".join(parts) + ".")
  text = "\n".join([
      "# xferjax study report", "", headline, "",
      f"- models: {', '.join(sorted(results['model'].unique()))}",
      f"- targets: {', '.join(t.name for t in study.targets)}; "
      "zero-shot on every listed language",
      "- sd = sample standard deviation across seeds; gain = cell minus the "
      "same model's baseline, paired by seed", "",
      "## Zero-shot accuracy per language", "", _markdown(table), "",
      "![zero-shot accuracy](zero_shot_accuracy.png)", "",
      "Data: `results.csv` / `results.parquet` (one row per number), "
      "`examples.*` (per-example scores).", ""])
  results_io.atomic_write_text(os.path.join(out, "report.md"), text)
