"""The paired bootstrap over seeds and evaluation examples.

A study's gain is measured with two kinds of noise: which fine-tuning seeds
were run (training randomness) and which evaluation examples happen to be in
the dev/test set. One bootstrap replicate redraws both:

- seeds: for every model, its seeds are drawn with replacement, separately
  per model (seed 0 of two models are unrelated runs) but jointly for a
  model's baseline and all its cells, so every gain stays paired with the
  baseline of the same model and seed;
- examples: for every target task, its evaluation examples are drawn with
  replacement once and the same draw is applied to every model, cell, seed
  and language (same `example_index` = same example; in XTREME's parallel
  sets the same index is the same sentence in every language, and where it
  is not, sharing the draw adds no correlation on average). A unit's score
  then moves by (resampled mean - full mean) of its per-example scores, so
  point estimates are exactly the results table's numbers, whatever the
  metric's own formula.

Resampling both ways counts the seed x example interaction twice: which
examples flip between two fine-tuning runs is part of the seed-to-seed
variation *and* of the per-example differences. Under the two-way
random-effects model d[s, i] = mu + a_s + b_i + ab_si of a paired difference
(seed s, example i), the example resampling of a seed-averaged difference
has variance (var b + var ab / S) / N, of which only var b / N is the
evaluation set's own share. So each (cell, language)'s example shift is
scaled by lambda = sqrt(1 - MS_interaction / MS_examples) from the two-way
ANOVA of its paired per-example differences (1 where it cannot be estimated:
a single seed), which removes the double count (cf. Owen 2007, "The
pigeonhole bootstrap", on why the naive two-way bootstrap is conservative).

Units without per-example scores keep their value (only seeds vary them).
Replicates are produced in fixed-size chunks from one seeded generator, so
the result depends only on the seed and the number of replicates.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Iterator

import numpy as np
import pandas as pd

# Replicates per chunk: at most MAX_CHUNK, fewer for big designs so that one
# chunk's per-unit shifts stay near CHUNK_FLOATS numbers. The size depends on
# the design's shape only, so the same tables always give the same draws.
MAX_CHUNK = 250
CHUNK_FLOATS = 4_000_000


@dataclasses.dataclass
class ExampleBlock:
  """Per-example scores of one target task, one row per (config, eval, seed)."""
  config: np.ndarray    # (U,) index into Design.values' first axis
  eval: np.ndarray      # (U,)
  seed: np.ndarray      # (U,)
  scores: np.ndarray    # (U, N) float, 0 where absent
  present: np.ndarray   # (U, N) float 0/1
  means: np.ndarray     # (U,)


@dataclasses.dataclass
class Design:
  """The results table as dense arrays, ready for vectorised resampling.

  Configs 0..M-1 are the models' baselines, configs M.. the other cells
  (`cells`, one row per (model, intermediate task, n_examples)). `values`
  is (configs, evals, seed slots) with NaN where nothing was measured.
  """
  models: list[str]
  params: np.ndarray                # (M,)
  seeds: list[int]                  # seed slots
  has_seed: np.ndarray              # (M, S) bool
  cells: pd.DataFrame               # K rows: model, model_index, task, n
  evals: pd.DataFrame               # E rows: target_task, language
  values: np.ndarray                # (M + K, E, S)
  blocks: list[ExampleBlock]
  # (K, E): scale of each cell's example shifts (see the module doc).
  example_scale: np.ndarray | None = None

  @property
  def n_seeds(self) -> np.ndarray:
    return self.has_seed.sum(1)

  @property
  def gains(self) -> np.ndarray:
    """(K, E, S): each cell minus its model's baseline, same seed."""
    m = len(self.models)
    return self.values[m:] - self.values[self.cells["model_index"].to_numpy()]


def build_design(results: pd.DataFrame, examples: pd.DataFrame | None,
                 baseline_task: str) -> tuple[Design, int]:
  """Design from one metric per (target, language) rows; and the number of
  per-example rows that matched a measured unit."""
  models = sorted(results["model"].unique())
  params = results.groupby("model")["params"].first().reindex(models)
  seeds = sorted(results["seed"].unique())
  base = (results["intermediate_task"] == baseline_task).to_numpy()
  cells = (results.loc[~base, ["model", "intermediate_task", "n_examples"]]
           .drop_duplicates().sort_values(
               ["model", "intermediate_task", "n_examples"])
           .reset_index(drop=True))
  cells.insert(1, "model_index", cells["model"].map(
      {m: i for i, m in enumerate(models)}).to_numpy())
  configs = pd.MultiIndex.from_frame(pd.concat([
      pd.DataFrame({"model": models, "intermediate_task": baseline_task,
                    "n_examples": 0}),
      cells[["model", "intermediate_task", "n_examples"]]],
      ignore_index=True))
  evals = (results[["target_task", "language"]].drop_duplicates()
           .sort_values(["target_task", "language"]).reset_index(drop=True))
  eval_keys = pd.MultiIndex.from_frame(evals)
  seed_keys = pd.Index(seeds)

  c, e, s = _codes(results, configs, eval_keys, seed_keys)
  values = np.full((len(configs), len(evals), len(seeds)), np.nan)
  values[c, e, s] = results["value"].to_numpy()
  has_seed = np.zeros((len(models), len(seeds)), bool)
  has_seed[c[base], s[base]] = True
  design = Design(models, params.to_numpy(float), seeds, has_seed, cells,
                  evals, values, [])
  matched = 0
  if examples is not None and len(examples):
    design.blocks, matched = _example_blocks(
        examples, _codes(examples, configs, eval_keys, seed_keys), values)
    design.example_scale = _interaction_scale(design)
  return design, matched


def _codes(df, configs, eval_keys, seed_keys):
  """Positions of each row's config, eval and seed (-1 where unknown)."""
  def position(index, columns):
    return index.get_indexer(pd.MultiIndex.from_frame(df[list(columns)]))
  return (position(configs, configs.names),
          position(eval_keys, eval_keys.names),
          seed_keys.get_indexer(df["seed"]))


def _example_blocks(examples, codes, values):
  c, e, s = codes
  ok = (c >= 0) & (e >= 0) & (s >= 0)
  ok[ok] = ~np.isnan(values[c[ok], e[ok], s[ok]])
  examples = examples[ok]
  c, e, s = c[ok], e[ok], s[ok]
  n_evals, n_seeds = values.shape[1:]
  unit_code = (c * n_evals + e) * n_seeds + s
  example_index = examples["example_index"].to_numpy()
  score = examples["value"].to_numpy(float)
  blocks = []
  for _, rows in sorted(examples.groupby("target_task").indices.items()):
    example_ids, column = np.unique(example_index[rows], return_inverse=True)
    units, unit_of_row = np.unique(unit_code[rows], return_inverse=True)
    scores = np.zeros((len(units), len(example_ids)))
    present = np.zeros_like(scores)
    scores[unit_of_row, column] = score[rows]
    present[unit_of_row, column] = 1.0
    blocks.append(ExampleBlock(
        units // (n_evals * n_seeds), units // n_seeds % n_evals,
        units % n_seeds, scores, present, scores.sum(1) / present.sum(1)))
  return blocks, int(ok.sum())


def _interaction_scale(design: Design) -> np.ndarray:
  """(K, E) lambda per cell and eval (module doc); 1 where not estimable."""
  m = len(design.models)
  n_evals, n_seeds = design.values.shape[1:]
  scale = np.ones((len(design.cells), n_evals))
  model_of_cell = design.cells["model_index"].to_numpy()
  for block in design.blocks:
    row_of = {(int(c), int(e), int(s)): i for i, (c, e, s) in enumerate(
        zip(block.config, block.eval, block.seed))}
    for k, model in enumerate(model_of_cell):
      for e in np.unique(block.eval):
        pairs = [(row_of[(m + k, e, s)], row_of[(model, e, s)])
                 for s in range(n_seeds)
                 if (m + k, e, s) in row_of and (model, e, s) in row_of]
        if len(pairs) < 2:
          continue
        cell_rows, base_rows = map(list, zip(*pairs))
        common = (block.present[cell_rows] * block.present[base_rows]
                  ).all(0)
        if common.sum() < 2:
          continue
        d = (block.scores[cell_rows] - block.scores[base_rows])[:, common]
        n_s, n_i = d.shape
        resid = (d - d.mean(1, keepdims=True) - d.mean(0, keepdims=True)
                 + d.mean())
        ms_examples = n_s * d.mean(0).var(ddof=1)
        ms_interaction = (resid ** 2).sum() / ((n_s - 1) * (n_i - 1))
        if ms_examples > 0:
          scale[k, e] = np.sqrt(max(0.0, 1.0 - ms_interaction / ms_examples))
  return scale


def point_gains(design: Design) -> np.ndarray:
  """(K, E): mean over the model's seeds of the paired gain."""
  weights = np.broadcast_to(
      design.has_seed[design.cells["model_index"].to_numpy()][None],
      (1, len(design.cells), len(design.seeds))).astype(float)
  return _seed_mean(design.gains, weights, None)[0]


def _seed_mean(gains, weights, shifts) -> np.ndarray:
  """Weighted mean over seeds of gains (+ per-replicate shifts), NaN-aware.

  gains (K, E, S); weights (R, K, S); shifts None or (R, K, E, S).
  """
  valid = ~np.isnan(gains)
  g0 = np.where(valid, gains, 0.0)
  num = np.einsum("rks,kes->rke", weights, g0)
  if shifts is not None:
    num = num + np.einsum("rks,rkes->rke", weights, shifts * valid)
  den = np.einsum("rks,kes->rke", weights, valid.astype(float))
  with np.errstate(invalid="ignore", divide="ignore"):
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def replicate_gains(design: Design, n_boot: int,
                    seed: int) -> Iterator[np.ndarray]:
  """Yields chunks (R_chunk, K, E) of bootstrap replicates of point_gains."""
  rng = np.random.default_rng(seed)
  model_of_cell = design.cells["model_index"].to_numpy()
  seed_slots = [np.flatnonzero(row) for row in design.has_seed]
  gains = design.gains
  chunk = int(np.clip(CHUNK_FLOATS // max(design.values.size, 1), 1,
                      MAX_CHUNK))
  done = 0
  while done < n_boot:
    r = min(chunk, n_boot - done)
    counts = np.zeros((r, len(design.models), len(design.seeds)))
    for m, slots in enumerate(seed_slots):
      draws = rng.integers(0, len(slots), (r, len(slots)))
      for j, slot in enumerate(slots):
        counts[:, m, slot] = (draws == j).sum(1)
    shifts = _example_shifts(design, r, rng)
    cell_shifts = None
    if shifts is not None:
      m = len(design.models)
      cell_shifts = shifts[:, m:] - shifts[:, model_of_cell]
      if design.example_scale is not None:
        cell_shifts = cell_shifts * design.example_scale[None, :, :, None]
    yield _seed_mean(gains, counts[:, model_of_cell], cell_shifts)
    done += r


def _example_shifts(design: Design, r: int,
                    rng: np.random.Generator) -> np.ndarray | None:
  """(R, configs, E, S): how much resampling examples moves each unit."""
  if not design.blocks:
    return None
  shifts = np.zeros((r,) + design.values.shape)
  for block in design.blocks:
    n = block.scores.shape[1]
    picks = rng.integers(0, n, (r, n)) + n * np.arange(r)[:, None]
    draw = np.bincount(picks.ravel(), minlength=r * n).reshape(r, n) * 1.0
    total = draw @ block.scores.T
    count = draw @ block.present.T
    with np.errstate(invalid="ignore", divide="ignore"):
      moved = np.where(count > 0, total / np.where(count > 0, count, 1.0)
                       - block.means, 0.0)
    shifts[:, block.config, block.eval, block.seed] = moved
  return shifts


def run(design: Design, statistics: Callable[[np.ndarray],
                                             dict[str, np.ndarray]],
        n_boot: int, seed: int) -> tuple[dict[str, np.ndarray],
                                         dict[str, np.ndarray]]:
  """Point values and bootstrap replicates of statistics of the gains.

  `statistics` maps gains (R, K, E) to {name: array (R, ...)}, vectorised
  over replicates. Returns ({name: point (...)}, {name: (n_boot, ...)}).
  """
  points = {k: v[0] for k, v in statistics(point_gains(design)[None]).items()}
  parts = {k: [] for k in points}
  for chunk in replicate_gains(design, n_boot, seed):
    for k, v in statistics(chunk).items():
      parts[k].append(v)
  boots = {k: np.concatenate(p) if p else np.zeros((0,) + points[k].shape)
           for k, p in parts.items()}
  return points, boots
