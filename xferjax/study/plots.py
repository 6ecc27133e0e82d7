"""The report's figures, each saved as PNG (embedded in report.html) and SVG.

Every plotted gain carries its 95% interval from the analysis, so a figure
never shows more certainty than the tables.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from xferjax.study import saturation

FORMATS = ("png", "svg")
DPI = 110


def _pyplot():
  import matplotlib
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt
  return plt


def _save(fig, out_dir: str, name: str) -> str:
  plt = _pyplot()
  fig.tight_layout()
  for ext in FORMATS:
    fig.savefig(os.path.join(out_dir, f"{name}.{ext}"), dpi=DPI)
  plt.close(fig)
  return name


def _errors(rows: pd.DataFrame) -> np.ndarray:
  return np.vstack([rows["gain"] - rows["low"], rows["high"] - rows["gain"]])


def _condition(rows: pd.DataFrame) -> pd.Series:
  return rows["intermediate_task"] + " n=" + rows["n_examples"].map(
      lambda n: f"{int(n):,}")


def heatmap(cell_targets: pd.DataFrame, out_dir: str) -> str:
  """Intermediate (task, size) x target task gains, one panel per model."""
  plt = _pyplot()
  models = list(dict.fromkeys(cell_targets["model"]))
  data = cell_targets.assign(condition=_condition(cell_targets))
  conditions = list(dict.fromkeys(data.sort_values(
      ["intermediate_task", "n_examples"])["condition"]))
  targets = sorted(data["target_task"].unique())
  limit = float(np.nanmax(np.abs(data["gain"]))) or 1.0
  fig, axes = plt.subplots(
      1, len(models), squeeze=False,
      figsize=(1.2 + 1.3 * len(targets) * len(models),
               1.2 + 0.45 * len(conditions)))
  for k, (ax, model) in enumerate(zip(axes[0], models)):
    grid = (data[data["model"] == model]
            .pivot_table(index="condition", columns="target_task",
                         values="gain").reindex(index=conditions,
                                                columns=targets))
    image = ax.imshow(grid.to_numpy(float), cmap="RdBu", vmin=-limit,
                      vmax=limit, aspect="auto")
    for (i, j), value in np.ndenumerate(grid.to_numpy(float)):
      if np.isfinite(value):
        ax.text(j, i, f"{value:+.1f}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(targets)), targets, rotation=30, ha="right")
    ax.set_yticks(range(len(conditions)), conditions if k == 0 else [])
    ax.set_title(model, fontsize=10)
  fig.colorbar(image, ax=axes[0].tolist(), label="gain over baseline "
               "(points)", shrink=0.8)
  fig.suptitle("Gain of each intermediate task on each target task "
               "(mean over languages and seeds)", fontsize=10)
  # tight_layout does not know about the shared colorbar.
  for ext in FORMATS:
    fig.savefig(os.path.join(out_dir, f"gain_heatmap.{ext}"), dpi=DPI,
                bbox_inches="tight")
  plt.close(fig)
  return "gain_heatmap"


def gain_vs_params(models: pd.DataFrame, threshold: float, out_dir: str
                   ) -> str:
  plt = _pyplot()
  fig, ax = plt.subplots(figsize=(6, 3.6))
  rows = models.sort_values("params")
  ax.errorbar(rows["params"], rows["gain"], yerr=_errors(rows), fmt="o-",
              capsize=3)
  for r in rows.itertuples():
    ax.annotate(r.model, (r.params, r.gain), textcoords="offset points",
                xytext=(4, 4), fontsize=8)
  ax.axhline(0, color="grey", lw=0.8)
  ax.axvline(threshold, color="tab:red", ls="--", lw=1,
             label=f"threshold {format_count(threshold)}")
  ax.set_xscale("log")
  ax.set_xlabel("parameters")
  ax.set_ylabel("gain over baseline (points)")
  ax.set_title("Gain vs model size (95% intervals)", fontsize=10)
  ax.legend(fontsize=8)
  return _save(fig, out_dir, "gain_vs_params")


def gain_vs_data(cells: pd.DataFrame, fits: pd.DataFrame, out_dir: str
                 ) -> str:
  """Per intermediate task: gain vs data size per model, fitted curves."""
  plt = _pyplot()
  tasks = sorted(cells["intermediate_task"].unique())
  fig, axes = plt.subplots(1, len(tasks), squeeze=False,
                           figsize=(5.5 * len(tasks), 3.8))
  for ax, task in zip(axes[0], tasks):
    part = cells[cells["intermediate_task"] == task]
    groups = list(part.groupby("model", sort=False))
    for i, (model, rows) in enumerate(groups):
      rows = rows.sort_values("n_examples")
      color = f"C{i}"
      # Models side by side around each size, so their intervals stay apart.
      dodge = 1.08 ** (i - (len(groups) - 1) / 2)
      ax.errorbar(rows["n_examples"] * dodge, rows["gain"], yerr=_errors(rows),
                  fmt="o", color=color, capsize=3, label=model)
      fit = fits[(fits["model"] == model) &
                 (fits["intermediate_task"] == task)]
      if len(fit):
        f = fit.iloc[0]
        n = np.geomspace(f["min_size"] / 3, f["max_size"] * 3, 100)
        ax.plot(n, saturation.curve(n, f["A"], f["B"]), color=color, lw=1)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("intermediate training examples")
    ax.set_ylabel("gain over baseline (points)")
    fitted = (fits["intermediate_task"] == task).any()
    ax.set_title(f"{task}: gain vs data size"
                 + (", fitted A·n/(n+B)" if fitted else
                    " (no fit: fewer than 3 sizes)"), fontsize=10)
    ax.legend(fontsize=8)
  return _save(fig, out_dir, "gain_vs_data_size")


def per_language(languages: pd.DataFrame, out_dir: str) -> str:
  """Per target task: gain per language, one bar per model."""
  plt = _pyplot()
  targets = sorted(languages["target_task"].unique())
  fig, axes = plt.subplots(len(targets), 1, squeeze=False,
                           figsize=(8, 3.2 * len(targets)))
  for ax, target in zip(axes[:, 0], targets):
    part = languages[languages["target_task"] == target]
    langs = list(dict.fromkeys(part["language"]))
    models = list(dict.fromkeys(part["model"]))
    width = 0.8 / len(models)
    x = np.arange(len(langs))
    for i, model in enumerate(models):
      rows = part[part["model"] == model].set_index("language").reindex(langs)
      ax.bar(x + (i - (len(models) - 1) / 2) * width, rows["gain"], width,
             yerr=_errors(rows), capsize=2, label=model)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(x, langs)
    ax.set_ylabel("gain over baseline (points)")
    ax.set_title(f"{target}: zero-shot gain per language (mean over the "
                 "model's intermediate cells; 95% intervals)", fontsize=10)
    ax.legend(fontsize=8)
  return _save(fig, out_dir, "gain_per_language")


def format_count(x: float) -> str:
  """1e9 -> '1B', 5.5e8 -> '550M', 1e5 -> '100k'."""
  for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
    if abs(x) >= scale:
      return f"{x / scale:.3g}{suffix}"
  return f"{x:.3g}"


def all_figures(analysis, out_dir: str) -> list[tuple[str, str]]:
  """(name, caption) of every figure written into out_dir."""
  figures = []
  if len(analysis.cell_targets):
    figures.append((heatmap(analysis.cell_targets, out_dir),
                    "Intermediate task x target task: gain over the "
                    "baseline, per model"))
  figures.append((gain_vs_params(analysis.models,
                                 analysis.threshold.threshold, out_dir),
                  "Gain vs parameter count, with the threshold"))
  figures.append((gain_vs_data(analysis.cells, analysis.fits, out_dir),
                  "Gain vs intermediate data size per model, with the "
                  "fitted saturating curves"))
  figures.append((per_language(analysis.languages, out_dir),
                  "Zero-shot gain per language"))
  return figures
