"""The study's results as two tidy tables (CSV and Parquet).

`results`: one row per measured number:
  model, params, intermediate_task, n_examples, seed, target_task, language,
  split, metric, value
`examples`: per-example scores with the same keys plus `example_index`, one
row per example and metric (0/100 for accuracy, the question's EM/F1 for
QA, the linearisation of corpus-level metrics such as entity F1 or BUCC F1:
`xferjax.train.example_scores`), so the analysis can bootstrap over
evaluation examples for every metric, paired between a cell and its
baseline.

Baseline rows have intermediate_task "none" and n_examples 0. Both tables
are rebuilt from the run directories on every collection, so they always
match what is on disk; missing phases are listed, never guessed.
"""

from __future__ import annotations

import io
import os

import pandas as pd

from xferjax import errors
from xferjax.study import pipeline
from xferjax.study.tables import (EXAMPLE_COLUMNS, NO_INTERMEDIATE,
                                  RESULT_COLUMNS)
from xferjax.train import results_io
from xferjax.train.evaluator import SCORES_SUFFIX, read_example_scores


def _n_examples(study, cell: pipeline.Cell) -> int:
  if cell.is_baseline:
    return 0
  if cell.n_examples is not None:
    return cell.n_examples
  inter = results_io.read_results(
      os.path.join(cell.directory(study), "intermediate")) or {}
  if "num_train_examples" not in inter:
    raise errors.DataError(
        f"cannot tell how many examples the full-size intermediate run of "
        f"cell {cell.index} used", "re-run the cell with this xferjax "
        "version (its results.json records num_train_examples)")
  return int(inter["num_train_examples"])


def collect(study, params_by_model: dict[str, int]
            ) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
  """Reads every finished target run; returns (results, examples, missing)."""
  rows, example_rows, missing = [], [], []
  for cell in pipeline.expand_cells(study):
    for target in study.targets:
      run_dir = os.path.join(cell.directory(study), f"target_{target.name}")
      results = results_io.read_results(run_dir)
      if results is None:
        missing.append(f"cell {cell.index} ({cell.describe()}) target "
                       f"{target.name}")
        continue
      key = {
          "model": cell.model,
          "intermediate_task": cell.intermediate_task or NO_INTERMEDIATE,
          "n_examples": _n_examples(study, cell),
          "seed": cell.seed,
          "target_task": target.name,
          "split": target.split,
      }
      for task in pipeline.zero_shot_tasks(study, target):
        language = pipeline.language_of(task)
        for metric, value in results["eval"][task].items():
          # Not metrics: counts, retrieval details (layer, pooling).
          if metric == "num_examples" or not isinstance(value, (int, float)):
            continue
          rows.append({**key, "params": params_by_model[cell.model],
                       "language": language, "metric": metric,
                       "value": float(value)})
        path = os.path.join(run_dir, "predictions",
                            f"{task}.{key['split']}.{SCORES_SUFFIX}")
        # Every head writes per-example scores for each of its metrics.
        if os.path.exists(path):
          measured = set(results["eval"][task])
          for index, scores in read_example_scores(path):
            for metric, value in scores.items():
              if metric in measured:
                example_rows.append({**key, "language": language,
                                     "example_index": index,
                                     "metric": metric, "value": value})
  results_df = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
  examples_df = pd.DataFrame(example_rows, columns=list(EXAMPLE_COLUMNS))
  return results_df, examples_df, missing


def write_tables(output_dir: str, results: pd.DataFrame,
                 examples: pd.DataFrame) -> list[str]:
  """Writes CSV and Parquet atomically; returns the paths written."""
  written = []
  for name, table in (("results", results), ("examples", examples)):
    csv_path = os.path.join(output_dir, f"{name}.csv")
    buf = io.StringIO()
    table.to_csv(buf, index=False)
    results_io.atomic_write_text(csv_path, buf.getvalue())
    parquet_path = os.path.join(output_dir, f"{name}.parquet")
    tmp = parquet_path + ".tmp"
    table.to_parquet(tmp, index=False)
    os.replace(tmp, parquet_path)
    written += [csv_path, parquet_path]
  return written
