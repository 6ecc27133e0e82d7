"""Synthetic study tables with a planted answer, for the analysis tests.

A study of four models (two below 1B parameters, two above), one or two
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

# A (asymptotic gain, points) and B (half-saturation size) per model.
SCENARIOS = {
    "saturating": {"A": (6.0, 6.5, 2.0, 1.5), "B": (2000, 3000, 3000, 5000)},
    "not_saturating": {"A": (4.0, 4.0, 4.0, 4.0),
                       "B": (3000, 3000, 3000, 3000)},
    "no_gain": {"A": (0.0, 0.0, 0.0, 0.0), "B": (3000, 3000, 3000, 3000)},
}


@dataclasses.dataclass
class Truth:
  a: dict[str, float]
  b: dict[str, float]
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
  above = params >= 1e9
  return Truth(dict(zip(names, a)), dict(zip(names, b)),
               model_gain[~above].mean(), model_gain[above].mean(),
               model_gain[above].mean() - model_gain[~above].mean(),
               model_gain.mean())


def planted_tables(scenario: str, seed: int, *, n_seeds: int = 5,
                   n_eval: int = 300, intermediate_tasks=("mnli",),
                   target_tasks=("xnli",), sizes=SIZES, seed_sd: float = 1.0,
                   language_sd: float = 0.5, shared: float = 0.7,
                   with_examples: bool = True
                   ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
  spec = SCENARIOS[scenario]
  rng = np.random.default_rng(seed)
  factors = np.array(LANGUAGE_FACTORS)
  n_lang = len(LANGUAGES)
  cells = [("none", 0)] + [(t, n) for t in intermediate_tasks for n in sizes]
  results, examples = [], []
  for target in target_tasks:
    difficulty = rng.random((n_lang, n_eval))
    for m, (model, params) in enumerate(MODELS):
      base_acc = 0.55 + 0.04 * m + np.linspace(-0.05, 0.05, n_lang)
      for s in range(n_seeds):
        for task, n in cells:
          gain = 0.0 if n == 0 else (
              spec["A"][m] * n / (n + spec["B"][m]))
          noise = rng.normal(0, seed_sd) + rng.normal(0, language_sd, n_lang)
          p = base_acc + (gain * factors + noise) / 100.0
          fresh = rng.random((n_lang, n_eval))
          draw = np.where(rng.random((n_lang, n_eval)) < shared, difficulty,
                          fresh)
          correct = 100.0 * (draw < p[:, None])
          key = {"model": model, "intermediate_task": task, "n_examples": n,
                 "seed": s, "target_task": target, "split": "test"}
          for li, lang in enumerate(LANGUAGES):
            results.append({**key, "params": params, "language": lang,
                            "metric": "accuracy",
                            "value": float(correct[li].mean())})
          if with_examples:
            examples.append(pd.DataFrame({
                **key, "language": np.repeat(LANGUAGES, n_eval),
                "example_index": np.tile(np.arange(n_eval), n_lang),
                "metric": "accuracy", "value": correct.ravel()}))
  results_df = pd.DataFrame(results)
  examples_df = pd.concat(examples, ignore_index=True) if examples else None
  return results_df, examples_df
