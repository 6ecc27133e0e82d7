"""Synthetic study tables with a planted answer, for the analysis tests.

A study of four models (two below 1B parameters, two above), one or more
intermediate tasks at three data sizes, seeds, target tasks and languages,
simulated down to single evaluation examples:

- the true gain of a cell on language l is A_m * n / (n + B_m) * f_l, with
  language factors f_l that average to 1, so the language-averaged gain is
  exactly the saturating curve the analysis fits;
- each (cell, seed) adds a fine-tuning effect shared by its languages and a
  per-language one, both zero-mean (the baseline gets its own);
- each language has one fixed evaluation set: example i has a difficulty
  u_i shared by every model, cell and seed; a unit answers it correctly when
  a draw below its accuracy p succeeds, the draw being u_i with probability
  `shared` (so units agree on hard examples) and fresh otherwise. Either way
  P(correct) = p, so the planted gains are the population values.

Scenarios (the question: is the gain smaller above 1B parameters?):
  saturating      large gains below 1B, small above: "smaller above"
  not_saturating  gains that keep growing with model size: "not smaller"
  no_gain         intermediate training changes nothing

`results` and `examples` follow the results store's contract.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

SIZES = (1_000, 10_000, 100_000)
LANGUAGES = ("en", "de", "sw", "zh")
LANGUAGE_FACTORS = (1.3, 1.1, 0.7, 0.9)
MODELS = (("xlmr_base", 270_000_000), ("xlmr_large", 550_000_000),
          ("xlmr_xl", 3_500_000_000), ("xlmr_xxl", 10_700_000_000))
THRESHOLD = 1e9

# A (asymptotic gain, points) and B (half-saturation size) per model.
SCENARIOS = {
    "saturating": {"A": (6.5, 7.0, 1.5, 1.0), "B": (2000, 3000, 3000, 5000)},
    "not_saturating": {"A": (3.0, 4.0, 5.5, 6.5),
                       "B": (3000, 3000, 3000, 3000)},
    "no_gain": {"A": (0.0, 0.0, 0.0, 0.0), "B": (3000, 3000, 3000, 3000)},
}


@dataclasses.dataclass
class Truth:
  a: dict[str, float]
  b: dict[str, float]
  models: dict[str, float]
  gain_below: float
  gain_above: float
  difference: float
  overall: float


def truth_of(scenario: str, sizes=SIZES) -> Truth:
  spec = SCENARIOS[scenario]
  names = [m for m, _ in MODELS]
  params = np.array([p for _, p in MODELS], float)
  a, b = np.array(spec["A"]), np.array(spec["B"], float)
  n = np.array(sizes, float)
  model_gain = (a[:, None] * n / (n + b[:, None])).mean(1)
  above = params >= THRESHOLD
  return Truth(dict(zip(names, a)), dict(zip(names, b)),
               dict(zip(names, model_gain)),
               model_gain[~above].mean(), model_gain[above].mean(),
               model_gain[above].mean() - model_gain[~above].mean(),
               model_gain.mean())


def planted_tables(scenario: str, seed: int, *, n_seeds: int = 5,
                   n_eval: int = 200, intermediate_tasks=("mnli",),
                   target_tasks=("xnli",), sizes=SIZES, seed_sd: float = 1.0,
                   language_sd: float = 0.5, shared: float = 0.7,
                   with_examples: bool = True
                   ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
  """(results, examples or None); vectorised over every unit at once."""
  spec = SCENARIOS[scenario]
  rng = np.random.default_rng(seed)
  factors = np.array(LANGUAGE_FACTORS)
  n_lang = len(LANGUAGES)
  cells = [("none", 0)] + [(t, n) for t in intermediate_tasks for n in sizes]
  T, M, S, C = len(target_tasks), len(MODELS), n_seeds, len(cells)
  a = np.array(spec["A"])[:, None]
  b = np.array(spec["B"], float)[:, None]
  n = np.array([c[1] for c in cells], float)[None, :]
  gain = a * n / (n + b)                                       # (M, C)
  base_acc = (0.55 + 0.04 * np.arange(M)[:, None]
              + np.linspace(-0.05, 0.05, n_lang)[None, :])     # (M, L)
  noise = (rng.normal(0, seed_sd, (T, M, S, C, 1))
           + rng.normal(0, language_sd, (T, M, S, C, n_lang)))
  p = (base_acc[None, :, None, None, :]
       + (gain[None, :, None, :, None] * factors + noise) / 100.0)
  difficulty = rng.random((T, 1, 1, 1, n_lang, n_eval))
  fresh = rng.random((T, M, S, C, n_lang, n_eval))
  draw = np.where(rng.random(fresh.shape) < shared, difficulty, fresh)
  correct = 100.0 * (draw < p[..., None])                      # (T,M,S,C,L,N)

  grid = np.stack(np.meshgrid(np.arange(T), np.arange(M), np.arange(S),
                              np.arange(C), np.arange(n_lang),
                              indexing="ij"), -1).reshape(-1, 5)
  t, m, s, c, l = grid.T
  models = np.array([name for name, _ in MODELS], object)
  params = np.array([pp for _, pp in MODELS])
  tasks = np.array([task for task, _ in cells], object)
  sizes_of = np.array([size for _, size in cells])
  keys = {"model": models[m], "intermediate_task": tasks[c],
          "n_examples": sizes_of[c], "seed": s,
          "target_task": np.array(target_tasks, object)[t],
          "split": "test", "language": np.array(LANGUAGES, object)[l],
          "metric": "accuracy"}
  results = pd.DataFrame({**keys, "params": params[m],
                          "value": correct.mean(-1).reshape(-1)})
  examples = None
  if with_examples:
    examples = pd.DataFrame({
        **{k: np.repeat(v, n_eval) if isinstance(v, np.ndarray) else v
           for k, v in keys.items()},
        "example_index": np.tile(np.arange(n_eval), len(grid)),
        "value": correct.reshape(-1)})
  return results, examples
