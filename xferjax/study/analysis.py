"""The study's answer: does intermediate-task training help less above 1B?

Pure functions from the two tidy tables (`xferjax.study.tables`) to numbers
with confidence intervals; `analysis_report` turns them into words and plots.

Definitions (all in points of each target task's primary metric, 0-100):

- gain of a cell (model, intermediate task, n examples) on one target task
  and language = its score minus the score of the same model's baseline
  (no intermediate task) with the same seed, averaged over seeds;
- a cell's gain = mean over target tasks of the mean over languages (how the
  XTREME average weighs tasks and languages);
- a model's gain = mean of its cells' gains over the (intermediate task,
  size) cells and (target, language) pairs that every model has, so models
  are compared on the same design;
- the threshold test compares the mean model gain of models with at least
  `threshold` parameters with that of the models below it (each model
  counts once): difference = above - below, negative = smaller above;
- gain vs intermediate data size is fitted per (model, intermediate task)
  with g(n) = A n / (n + B) (`saturation`); gain vs parameter count is
  summarised by a least-squares slope per tenfold increase in parameters.

Every interval is a percentile interval of the paired bootstrap over seeds
and evaluation examples (`bootstrap`), widened about the estimate by
sqrt(S / (S - 1)) * t_{df} / z, with S the fewest seeds among the models a
number depends on and df the sum of their (seeds - 1): the bootstrap's
variance of a mean of S seeds is (S - 1) / S of the unbiased one, and with
so few seeds a normal quantile is too narrow (Hesterberg 2015, "What
teachers should know about the bootstrap", expanded percentile interval).
A difference is called significant when its interval excludes zero.
"""

from __future__ import annotations

import dataclasses
import re
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from xferjax import errors
from xferjax.study import bootstrap, saturation, tables

# The XTREME convention for each task family's headline metric. Matched on
# the task name with non-alphanumerics removed ("substring"), or on a whole
# word of it ("word"); the first match wins.
PRIMARY_METRICS = (
    ("substring", "xnli", "accuracy"),
    ("substring", "pawsx", "accuracy"),
    ("substring", "tatoeba", "accuracy"),
    ("substring", "bucc", "f1"),
    ("substring", "udpos", "f1"),
    ("substring", "panx", "f1"),
    ("substring", "wikiann", "f1"),
    ("substring", "xquad", "f1"),
    ("substring", "mlqa", "f1"),
    ("substring", "tydiqa", "f1"),
    ("substring", "squad", "f1"),
    ("word", "nli", "accuracy"),
    ("word", "pos", "f1"),
    ("word", "ner", "f1"),
    ("word", "qa", "f1"),
)
# Which split to analyse when a target task was scored on several.
SPLIT_PREFERENCE = ("test", "dev", "validation", "val")

SMALLER_ABOVE = "smaller_above"
LARGER_ABOVE = "larger_above"
NO_DIFFERENCE = "no_difference"
NO_GAIN = "no_gain"
ONE_SIDED = "one_sided"
NO_UNCERTAINTY = "no_uncertainty"


@dataclasses.dataclass(frozen=True)
class Options:
  threshold: float = 1e9
  n_boot: int = 2000
  seed: int = 0
  confidence: float = 0.95
  split: str | None = None          # None: per target, SPLIT_PREFERENCE
  exclude_languages: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Estimate:
  value: float
  low: float
  high: float

  @property
  def significant(self) -> bool:
    """True when the interval excludes zero."""
    return bool(self.low > 0 or self.high < 0)


@dataclasses.dataclass
class ThresholdTest:
  threshold: float
  below: list[str]
  above: list[str]
  gain_below: Estimate | None
  gain_above: Estimate | None
  difference: Estimate | None
  # The gatekeeping test (see `_verdict`): does either side gain at all?
  # Each side's interval at gate_confidence (Bonferroni over the sides).
  gain_detected: bool = False
  gate_confidence: float = 0.95


@dataclasses.dataclass
class Analysis:
  options: Options
  verdict: str
  overall: Estimate              # mean model gain over all models
  threshold: ThresholdTest
  models: pd.DataFrame           # one row per model
  slope: Estimate | None         # gain change per 10x parameters
  cells: pd.DataFrame            # per (model, intermediate task, n)
  cell_targets: pd.DataFrame     # per (model, intermediate task, n, target)
  languages: pd.DataFrame        # per (model, target, language)
  fits: pd.DataFrame             # per (model, intermediate task)
  xtreme: pd.DataFrame           # Phang et al.'s averages per model
  metrics: pd.DataFrame          # per target: split, metric, why
  summary: dict
  notes: list[str]


def primary_metric(task: str, metrics_present) -> tuple[str, bool]:
  """(metric, True) by the XTREME convention, or (first present, False)."""
  flat = re.sub(r"[^a-z0-9]", "", task.lower())
  words = set(re.split(r"[^a-z0-9]+", task.lower()))
  present = list(dict.fromkeys(metrics_present))
  for how, pattern, metric in PRIMARY_METRICS:
    hit = pattern in flat if how == "substring" else pattern in words
    if hit and metric in present:
      return metric, True
  return present[0], False


def _choose_split(splits, wanted: str | None) -> str | None:
  splits = list(dict.fromkeys(splits))
  if wanted is not None:
    return wanted if wanted in splits else None
  for s in SPLIT_PREFERENCE:
    if s in splits:
      return s
  return sorted(splits)[0]


def select_measurements(results: pd.DataFrame, options: Options
                        ) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
  """One split and one metric per target task; (rows, choices, notes)."""
  notes, choices, keep = [], [], []
  for target, rows in results.groupby("target_task", sort=True):
    split = _choose_split(rows["split"], options.split)
    if split is None:
      raise errors.DataError(
          f"target task {target} has no split {options.split!r} (it has "
          f"{', '.join(sorted(rows['split'].unique()))})",
          "pass --split with one of those, or leave it out to pick test, "
          "then dev")
    rows = rows[rows["split"] == split]
    metric, known = primary_metric(target, rows["metric"])
    others = sorted(set(results.loc[results["target_task"] == target,
                                    "split"]) - {split})
    choices.append({"target_task": target, "split": split, "metric": metric,
                    "chosen_by": "XTREME convention" if known else
                    "first metric in the table (task not in the table of "
                    "primary metrics)",
                    "other_splits": ", ".join(others)})
    if not known:
      notes.append(f"Target task {target} is not in xferjax's table of "
                   f"primary metrics; its first metric, {metric}, is used.")
    keep.append(rows[rows["metric"] == metric])
  selected = pd.concat(keep, ignore_index=True)
  if options.exclude_languages:
    selected = selected[~selected["language"].isin(options.exclude_languages)]
    notes.append("Languages left out of every average: "
                 f"{', '.join(options.exclude_languages)}.")
    if selected.empty or (selected["intermediate_task"]
                          == tables.NO_INTERMEDIATE).all():
      raise errors.DataError(
          "no results remain after leaving out languages "
          f"{', '.join(options.exclude_languages)}",
          "exclude fewer languages")
  return selected, pd.DataFrame(choices), notes


def _nanmean(x: np.ndarray, axis) -> np.ndarray:
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)
    return np.nanmean(x, axis=axis)


def _masked_mean(x: np.ndarray, groups: np.ndarray) -> np.ndarray:
  """Means of x's last axis (..., K) within groups, a 0/1 matrix (K, G),
  skipping NaNs: (..., G), NaN for a group with nothing measured."""
  valid = ~np.isnan(x)
  total = np.where(valid, x, 0.0) @ groups
  count = valid.astype(float) @ groups
  with np.errstate(invalid="ignore", divide="ignore"):
    return np.where(count > 0, total / np.where(count > 0, count, 1), np.nan)


def _one_hot(index: np.ndarray, size: int) -> np.ndarray:
  out = np.zeros((len(index), size))
  out[np.arange(len(index)), index] = 1.0
  return out


class _Statistics:
  """Everything reported, as functions of the gains (R, K, E)."""

  def __init__(self, design: bootstrap.Design, balanced: np.ndarray,
               side: np.ndarray, fit_groups: list[tuple[np.ndarray,
                                                        np.ndarray]]):
    targets = design.evals["target_task"]
    self.target_names = sorted(targets.unique())
    self.eval_to_target = _one_hot(
        targets.map({t: i for i, t in enumerate(self.target_names)}
                    ).to_numpy(), len(self.target_names))
    model_of_cell = design.cells["model_index"].to_numpy()
    self.cell_to_model = _one_hot(model_of_cell, len(design.models))
    self.balanced = balanced                       # (K, E) bool
    self.balanced_to_model = self.cell_to_model * balanced.any(1)[:, None]
    self.side = side                               # (M,) 0 below, 1 above
    log_params = np.log10(design.params)
    self.centred = log_params - log_params.mean()
    self.fit_groups = fit_groups

  def _cell_targets(self, gains):
    """(R, K, E) -> (R, K, T): mean over each target task's languages."""
    return _masked_mean(gains, self.eval_to_target)

  def __call__(self, gains: np.ndarray) -> dict[str, np.ndarray]:
    cell_targets = self._cell_targets(gains)                  # (R, K, T)
    cells = _nanmean(cell_targets, -1)                        # (R, K)
    balanced = np.where(self.balanced, gains, np.nan)
    balanced_cells = _nanmean(self._cell_targets(balanced), -1)
    models = _masked_mean(balanced_cells, self.balanced_to_model)  # (R, M)
    out = {"cell_targets": cell_targets, "cells": cells, "models": models,
           "overall": _nanmean(models, -1),
           # (R, M, E): mean over each model's cells, per language.
           "languages": np.swapaxes(_masked_mean(
               np.swapaxes(gains, 1, 2), self.cell_to_model), 1, 2)}
    for name, side in (("below", 0), ("above", 1)):
      if (self.side == side).any():
        out[name] = _nanmean(models[:, self.side == side], -1)
    if "below" in out and "above" in out:
      out["difference"] = out["above"] - out["below"]
    if np.ptp(self.centred) > 0:
      out["slope"] = (models - _nanmean(models, -1)[:, None]) @ self.centred \
          / (self.centred @ self.centred)
    for i, (cell_ids, sizes) in enumerate(self.fit_groups):
      a, b, edge = saturation.fit(sizes, cells[:, cell_ids])
      out[f"fit{i}"] = np.stack([a, np.log(b), edge.astype(float)], -1)
    return out


def widening(n_seeds, confidence: float) -> float:
  """Factor that widens a bootstrap interval for few seeds (module doc)."""
  n_seeds = np.asarray(n_seeds)
  fewest = int(n_seeds.min())
  if fewest < 2:
    return 1.0
  df = float((n_seeds - 1).sum())
  q = 0.5 + confidence / 2
  return float(np.sqrt(fewest / (fewest - 1)) * stats.t.ppf(q, df)
               / stats.norm.ppf(q))


def interval(point, boots, factor, confidence: float):
  """(low, high): percentile interval of boots, widened about the point."""
  point = np.asarray(point, float)
  alpha = 1 - confidence
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)
    low, high = np.nanquantile(boots, [alpha / 2, 1 - alpha / 2], axis=0)
  return point + factor * (low - point), point + factor * (high - point)


def _balanced_cells(design: bootstrap.Design, present: np.ndarray,
                    notes: list[str]) -> np.ndarray:
  """(K, E) mask of the measurements every model has (see module doc)."""
  cells = design.cells
  keys = list(zip(cells["intermediate_task"], cells["n_examples"]))
  n_models = len(design.models)
  shared_keys = {k for k in set(keys)
                 if cells[[kk == k for kk in keys]]["model"].nunique()
                 == n_models}
  shared_cell = np.array([k in shared_keys for k in keys])
  shared_eval = present[shared_cell].all(0) if shared_cell.any() else \
      np.zeros(present.shape[1], bool)
  if not shared_eval.any():
    notes.append("The models share no (intermediate task, data size) cell "
                 "measured on the same target tasks and languages, so each "
                 "model's gain averages its own cells; comparisons between "
                 "models mix different designs.")
    return present
  dropped_cells = sorted({f"{t} n={n}" for (t, n), s in
                          zip(keys, shared_cell) if not s})
  dropped_evals = design.evals[~shared_eval]
  if dropped_cells:
    notes.append("Model gains and the threshold test use only the cells "
                 "that every model has; left out: "
                 f"{', '.join(dropped_cells)}.")
  if len(dropped_evals):
    notes.append("Model gains and the threshold test use only the target "
                 "tasks and languages measured for every such cell; left "
                 "out: " + ", ".join(f"{t}/{l}" for t, l in
                                     dropped_evals.itertuples(index=False)) +
                 ".")
  return shared_cell[:, None] & shared_eval[None, :] & present


def _fit_groups(design: bootstrap.Design, notes: list[str]):
  """Per (model, intermediate task) with 3+ sizes: (cell ids, sizes)."""
  groups, keys, single = [], [], []
  for (model, task), rows in design.cells.groupby(
      ["model", "intermediate_task"], sort=True):
    if rows["n_examples"].nunique() >= 3:
      groups.append((rows.index.to_numpy(), rows["n_examples"].to_numpy(float)))
      keys.append((model, task))
    else:
      single.append(f"{model}/{task}")
  if single:
    notes.append("No saturation curve for " + ", ".join(single) +
                 ": the curve has two parameters, so it needs at least "
                 "three intermediate data sizes to be tested by the data "
                 "(two sizes fit any curve exactly).")
  return groups, keys


def _side(params, threshold) -> np.ndarray:
  return (np.asarray(params) >= threshold).astype(int)


def analyze(results: pd.DataFrame, examples: pd.DataFrame | None = None,
            options: Options = Options()) -> Analysis:
  """The whole analysis; deterministic for a given options.seed."""
  if options.n_boot < 10:
    raise errors.ConfigError(f"n_boot={options.n_boot} is too few bootstrap "
                             "resamples", "use at least 10 (2000 for a "
                             "report)")
  if not 0 < options.confidence < 1:
    raise errors.ConfigError(f"confidence={options.confidence} is not in "
                             "(0, 1)", "e.g. 0.95")
  results = tables.check_results(results)
  if examples is not None and len(examples):
    examples = tables.check_examples(examples)
  else:
    examples = None
  selected, metric_choices, notes = select_measurements(results, options)
  chosen_examples = None
  if examples is not None:
    chosen_examples = examples.merge(
        metric_choices[["target_task", "split", "metric"]],
        on=["target_task", "split", "metric"])
    chosen_examples = chosen_examples[
        ~chosen_examples["language"].isin(options.exclude_languages)]
  design, matched = bootstrap.build_design(selected, chosen_examples,
                                           tables.NO_INTERMEDIATE)
  if examples is not None and matched < len(chosen_examples):
    notes.append(f"{len(chosen_examples) - matched} per-example rows match "
                 "no cell of the results table and were ignored.")
  point = bootstrap.point_gains(design)
  present = ~np.isnan(point)
  balanced = _balanced_cells(design, present, notes)
  side = _side(design.params, options.threshold)
  fit_groups, fit_keys = _fit_groups(design, notes)
  statistics = _Statistics(design, balanced, side, fit_groups)
  points, boots = bootstrap.run(design, statistics, options.n_boot,
                                options.seed)
  n_seeds = design.n_seeds
  conf = options.confidence

  def estimate(name, models_involved, confidence=conf):
    low, high = interval(points[name], boots[name],
                         widening(n_seeds[models_involved], confidence),
                         confidence)
    return Estimate(float(points[name]), float(low), float(high))

  all_models = np.arange(len(design.models))
  below = all_models[side == 0]
  above = all_models[side == 1]
  threshold = ThresholdTest(
      options.threshold,
      [design.models[i] for i in below], [design.models[i] for i in above],
      estimate("below", below) if len(below) else None,
      estimate("above", above) if len(above) else None,
      estimate("difference", all_models) if len(below) and len(above)
      else None)
  sides = [(n, idx) for n, idx in (("below", below), ("above", above))
           if len(idx)]
  threshold.gate_confidence = 1 - (1 - conf) / len(sides)
  threshold.gain_detected = any(
      estimate(n, idx, threshold.gate_confidence).significant
      for n, idx in sides)
  overall = estimate("overall", all_models)
  per_model_factor = np.array([widening(n_seeds[[m]], conf)
                               for m in all_models])
  model_of_cell = design.cells["model_index"].to_numpy()

  models = _table(points["models"], boots["models"], per_model_factor, conf,
                  pd.DataFrame({"model": design.models,
                                "params": design.params.astype(np.int64),
                                "seeds": n_seeds,
                                "side": np.where(side == 1, "above",
                                                 "below")}))
  cells = _table(points["cells"], boots["cells"],
                 per_model_factor[model_of_cell], conf,
                 design.cells[["model", "intermediate_task", "n_examples"]]
                 .assign(params=design.params[model_of_cell]
                         .astype(np.int64)))
  target_names = statistics.target_names
  k_idx, t_idx = np.meshgrid(np.arange(len(design.cells)),
                             np.arange(len(target_names)), indexing="ij")
  cell_targets = _table(
      points["cell_targets"], boots["cell_targets"],
      per_model_factor[model_of_cell][:, None], conf,
      pd.DataFrame({
          "model": design.cells["model"].to_numpy()[k_idx.ravel()],
          "intermediate_task":
              design.cells["intermediate_task"].to_numpy()[k_idx.ravel()],
          "n_examples": design.cells["n_examples"].to_numpy()[k_idx.ravel()],
          "target_task": np.array(target_names)[t_idx.ravel()]}))
  languages = _language_table(design, points, boots, per_model_factor, conf)
  fits = _fit_table(design, fit_groups, fit_keys, points, boots,
                    per_model_factor, conf)
  slope = (estimate("slope", all_models) if "slope" in points else None)
  if slope is None:
    notes.append("Gain vs parameter count has no slope: every model has the "
                 "same parameter count.")
  one_seed = [m for m, s in zip(design.models, n_seeds) if s < 2]
  if one_seed and len(one_seed) < len(design.models):
    notes.append(f"{', '.join(one_seed)} ran a single seed: their "
                 "seed-to-seed variation cannot be estimated, so intervals "
                 "that involve them understate the uncertainty.")
  summary = _summary(design, selected, metric_choices, chosen_examples,
                     options)
  verdict = _verdict(threshold, n_seeds, design.blocks)
  return Analysis(options, verdict, overall, threshold, models, slope, cells,
                  cell_targets, languages, fits,
                  xtreme_averages(design), metric_choices, summary, notes)


def _table(point, boots, factor, confidence, keys: pd.DataFrame
           ) -> pd.DataFrame:
  low, high = interval(point, boots, factor, confidence)
  out = keys.reset_index(drop=True).copy()
  out["gain"] = np.ravel(point)
  out["low"] = np.ravel(low)
  out["high"] = np.ravel(high)
  return out[~np.isnan(out["gain"])].reset_index(drop=True)


def _language_table(design, points, boots, per_model_factor, conf):
  m_idx, e_idx = np.meshgrid(np.arange(len(design.models)),
                             np.arange(len(design.evals)), indexing="ij")
  baseline = _nanmean(
      np.where(design.has_seed[:, None, :], design.values[:len(design.models)],
               np.nan), -1)
  keys = pd.DataFrame({
      "model": np.array(design.models)[m_idx.ravel()],
      "params": design.params[m_idx.ravel()].astype(np.int64),
      "target_task": design.evals["target_task"].to_numpy()[e_idx.ravel()],
      "language": design.evals["language"].to_numpy()[e_idx.ravel()],
      "baseline": baseline.ravel()})
  return _table(points["languages"], boots["languages"],
                per_model_factor[:, None], conf, keys)


def _fit_table(design, fit_groups, fit_keys, points, boots, per_model_factor,
               conf) -> pd.DataFrame:
  """A and B with intervals; B's interval is taken on log B and is open at
  an end of the search grid (the data cannot bound B on that side)."""
  model_index = {m: i for i, m in enumerate(design.models)}
  rows = []
  for i, ((model, task), (_, sizes)) in enumerate(zip(fit_keys, fit_groups)):
    p, b = points[f"fit{i}"], boots[f"fit{i}"]
    factor = per_model_factor[model_index[model]]
    a_low, a_high = interval(p[0], b[:, 0], factor, conf)
    logb_low, logb_high = interval(p[1], b[:, 1], factor, conf)
    log_grid = np.log(saturation.b_grid(sizes))
    edge_share = float(np.mean(b[:, 2]))
    rows.append({
        "model": model, "params": int(design.params[model_index[model]]),
        "intermediate_task": task, "sizes": len(sizes),
        "min_size": int(sizes.min()), "max_size": int(sizes.max()),
        "A": float(p[0]), "A_low": float(a_low), "A_high": float(a_high),
        "B": float(np.exp(p[1])), "B_at_edge": bool(p[2]),
        "B_low": float(np.exp(max(logb_low, log_grid[0]))),
        "B_high": float(np.exp(min(logb_high, log_grid[-1]))),
        "B_low_open": bool(logb_low <= log_grid[0] + 1e-9),
        "B_high_open": bool(logb_high >= log_grid[-1] - 1e-9),
        "edge_share": edge_share})
  return pd.DataFrame(rows, columns=[
      "model", "params", "intermediate_task", "sizes", "min_size",
      "max_size", "A", "A_low", "A_high", "B", "B_at_edge", "B_low",
      "B_high", "B_low_open", "B_high_open", "edge_share"])


def _verdict(threshold: ThresholdTest, n_seeds, blocks) -> str:
  """The answer in one word; the report turns it into a sentence.

  A gatekeeping procedure, so the two questions together keep a 5% error
  rate: first "does intermediate training change the score at all?" (either
  side's interval, Bonferroni-corrected over the sides, excludes zero);
  only then "is the change smaller above the threshold?" (the difference's
  interval excludes zero). Without the gate, a study with no gain would
  report a spurious difference or gain in about one of ten runs.
  """
  if (np.asarray(n_seeds) < 2).all() and not blocks:
    return NO_UNCERTAINTY
  if not threshold.gain_detected:
    return NO_GAIN
  if threshold.difference is None:
    return ONE_SIDED
  if threshold.difference.high < 0:
    return SMALLER_ABOVE
  if threshold.difference.low > 0:
    return LARGER_ABOVE
  return NO_DIFFERENCE


def xtreme_averages(design: bootstrap.Design) -> pd.DataFrame:
  """Phang et al.'s XTREME averages per model (point estimates).

  Scores are means over seeds, then over each target task's languages, then
  over target tasks. "best per target" takes, for each target task, the
  intermediate cell with the best score (a different cell may win each
  target); "best single" takes the one cell with the best average. Both
  select on the same numbers they report, so, as in the paper, they are
  optimistic when cells differ by noise only.
  """
  m = len(design.models)
  model_of = np.concatenate([np.arange(m),
                             design.cells["model_index"].to_numpy()])
  seeds = design.has_seed[model_of][:, None, :]
  per_eval = _nanmean(np.where(seeds, design.values, np.nan), -1)  # (C, E)
  targets = sorted(design.evals["target_task"].unique())
  task_scores = np.stack([_nanmean(per_eval[:, (design.evals["target_task"]
                                                == t).to_numpy()], -1)
                          for t in targets], -1)                   # (C, T)
  average = task_scores.mean(-1)      # NaN unless every target was measured
  labels = [tables.NO_INTERMEDIATE] * m + [
      f"{t} n={n}" for t, n in zip(design.cells["intermediate_task"],
                                   design.cells["n_examples"])]
  rows = []
  for i, model in enumerate(design.models):
    own = np.flatnonzero(model_of[m:] == i) + m
    base = average[i]
    scores = task_scores[own]
    best_rows = np.nanargmax(np.where(np.isnan(scores), -np.inf, scores), 0)
    best_per_target = float(np.mean(scores[best_rows, np.arange(len(targets))]))
    finite = ~np.isnan(average[own])
    single = own[finite][np.argmax(average[own][finite])] if finite.any() \
        else None
    rows.append({
        "model": model, "params": int(design.params[i]),
        "baseline": float(base),
        "best_per_target": best_per_target,
        "best_per_target_gain": best_per_target - float(base),
        "best_per_target_cells": "; ".join(
            f"{t}: {labels[own[r]]}" for t, r in zip(targets, best_rows)),
        "best_single_cell": labels[single] if single is not None else "",
        "best_single": float(average[single]) if single is not None
                       else np.nan,
        "best_single_gain": float(average[single] - base)
                            if single is not None else np.nan})
  return pd.DataFrame(rows)


def _summary(design, selected, metric_choices, examples, options) -> dict:
  cells = design.cells
  per_target_examples = {}
  for block in design.blocks:
    target = design.evals["target_task"].to_numpy()[block.eval[0]]
    per_target_examples[target] = int(block.present.sum(1).max())
  units = int((~np.isnan(design.values)).sum())
  units_with_examples = int(sum(len(b.config) for b in design.blocks))
  return {
      "models": list(design.models),
      "params": [int(p) for p in design.params],
      "seeds": {m: [int(s) for s, has in zip(design.seeds, row) if has]
                for m, row in zip(design.models, design.has_seed)},
      "intermediate_tasks": sorted(cells["intermediate_task"].unique()),
      "data_sizes": sorted(int(n) for n in cells["n_examples"].unique()),
      "target_tasks": sorted(design.evals["target_task"].unique()),
      "languages": sorted(design.evals["language"].unique()),
      "n_boot": options.n_boot,
      "confidence": options.confidence,
      "threshold": options.threshold,
      "examples_per_target": per_target_examples,
      "units": units,
      "units_with_examples": units_with_examples,
      "rows": int(len(selected)),
  }
