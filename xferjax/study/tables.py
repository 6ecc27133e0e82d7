"""The study's two tidy tables as the analysis reads them: schema, loading, checks.

Kept free of jax/TF imports so `xferjax report` and the analysis tests stay
fast. Every check raises `errors.DataError` naming what is missing, because a
silently dropped baseline or duplicated row would bias every gain after it.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from xferjax import errors

RESULT_COLUMNS = ("model", "params", "intermediate_task", "n_examples",
                  "seed", "target_task", "language", "split", "metric",
                  "value")
EXAMPLE_COLUMNS = ("model", "intermediate_task", "n_examples", "seed",
                   "target_task", "language", "split", "example_index",
                   "metric", "value")
# The baseline cell of a (model, seed): no intermediate task, no examples.
NO_INTERMEDIATE = "none"
# One measured number is identified by these columns (params follows model).
RESULT_KEY = ("model", "intermediate_task", "n_examples", "seed",
              "target_task", "language", "split", "metric")
CELL = ("model", "intermediate_task", "n_examples", "seed")
# What a non-baseline row is paired with: the same model, seed and measurement.
PAIRING = ("model", "seed", "target_task", "language", "split", "metric")

_TEXT = ("model", "intermediate_task", "target_task", "language", "split",
         "metric")
_INTEGER = ("params", "n_examples", "seed", "example_index")
_SHOWN = 8  # how many offending rows an error message lists


def load_tables(results_dir: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
  """(results, examples or None) from `results.{parquet,csv}` and `examples.*`."""
  if not os.path.isdir(results_dir):
    raise errors.DataError(
        f"results directory {results_dir} does not exist",
        "pass the study's output directory (the one `xferjax study "
        "--collect` wrote results.csv into)")
  results = _read_table(results_dir, "results")
  if results is None:
    raise errors.DataError(
        f"no results table in {results_dir} (looked for results.parquet and "
        "results.csv)",
        "run `xferjax study --gin_file=... --collect` first, or pass the "
        "directory that holds results.csv")
  examples = _read_table(results_dir, "examples")
  return check_results(results), (
      None if examples is None or examples.empty else check_examples(examples))


def _read_table(directory: str, name: str) -> pd.DataFrame | None:
  for ext, reader in (("parquet", pd.read_parquet), ("csv", _read_csv)):
    path = os.path.join(directory, f"{name}.{ext}")
    if os.path.exists(path):
      try:
        return reader(path)
      except Exception as e:  # pylint: disable=broad-except
        raise errors.DataError(
            f"cannot read {path}: {type(e).__name__}: {e}",
            f"re-create it with `xferjax study --collect`, or delete it to "
            f"fall back to {name}.csv") from None
  return None


def _read_csv(path: str) -> pd.DataFrame:
  # Text columns stay text even when a value looks like a number ("1", "nan").
  return pd.read_csv(path, dtype={c: str for c in _TEXT},
                     keep_default_na=False, na_values={"value": ["", "nan",
                                                                 "NaN"]})


def _require_columns(df: pd.DataFrame, columns, what: str) -> None:
  missing = [c for c in columns if c not in df.columns]
  if missing:
    raise errors.DataError(
        f"the {what} table lacks column(s) {', '.join(missing)} (it has "
        f"{', '.join(map(str, df.columns)) or 'none'})",
        f"write it with the columns {', '.join(columns)} (`xferjax study "
        "--collect` does)")


def _normalise(df: pd.DataFrame, columns, what: str) -> pd.DataFrame:
  """Typed copy: text columns as str, counts as int, value as float."""
  out = df[list(columns)].copy()
  for c in columns:
    if c in _TEXT and not isinstance(out[c].dtype, pd.StringDtype):
      out[c] = out[c].astype(str)
  for c in [c for c in columns if c in _INTEGER] + ["value"]:
    if pd.api.types.is_integer_dtype(out[c].dtype):
      continue  # whole and finite by construction
    numbers = pd.to_numeric(out[c], errors="coerce").astype("float64")
    bad = ~np.isfinite(numbers.to_numpy())
    if c != "value":
      bad |= numbers.fillna(0).to_numpy() % 1 != 0
    if bad.any():
      raise errors.DataError(
          f"the {what} table has {int(bad.sum())} row(s) whose {c} is not a "
          f"{'number' if c == 'value' else 'whole number'}, e.g. "
          f"{_describe_rows(df[bad])}",
          "fix or drop those rows (a failed evaluation is a missing row, not "
          "an empty value)")
    out[c] = numbers.astype("float64" if c == "value" else "int64")
  return out


def _describe_rows(df: pd.DataFrame, columns=None) -> str:
  columns = list(columns or df.columns)
  shown = [", ".join(f"{c}={r[c]}" for c in columns)
           for _, r in df.head(_SHOWN).iterrows()]
  more = f" (and {len(df) - _SHOWN} more)" if len(df) > _SHOWN else ""
  return "; ".join(f"({s})" for s in shown) + more


def _reject_duplicates(df: pd.DataFrame, key, what: str) -> None:
  dup = df.duplicated(list(key), keep=False)
  if dup.any():
    raise errors.DataError(
        f"the {what} table measures the same thing twice in "
        f"{int(dup.sum())} rows: {_describe_rows(df[dup], key)}",
        "collect the results again (`xferjax study --collect` rebuilds the "
        "table from the run directories) or drop the duplicates")


def check_results(df: pd.DataFrame) -> pd.DataFrame:
  """A typed copy of the results table, or a DataError saying what is wrong."""
  if df is None or len(df) == 0:
    raise errors.DataError(
        "the results table is empty: no cell of the study has finished",
        "run the study's cells (`xferjax study --gin_file=... [--cell K]`), "
        "then `--collect`")
  _require_columns(df, RESULT_COLUMNS, "results")
  out = _normalise(df, RESULT_COLUMNS, "results")
  _reject_duplicates(out, RESULT_KEY, "results")
  params = out.groupby("model")["params"].nunique()
  if (params > 1).any():
    models = ", ".join(
        f"{m} ({sorted(out.loc[out['model'] == m, 'params'].unique())})"
        for m in params[params > 1].index)
    raise errors.DataError(
        f"a model has more than one parameter count: {models}",
        "give each model preset exactly one `params` value")
  baseline = out["intermediate_task"] == NO_INTERMEDIATE
  odd = out[baseline & (out["n_examples"] != 0)
            | ~baseline & (out["n_examples"] <= 0)]
  if len(odd):
    raise errors.DataError(
        "n_examples must be 0 for baseline rows (intermediate_task "
        f"'{NO_INTERMEDIATE}') and positive otherwise; offending: "
        f"{_describe_rows(odd, CELL)}",
        "record the number of intermediate training examples per cell")
  if baseline.all():
    raise errors.DataError(
        "the results table holds only baseline cells (intermediate_task "
        f"'{NO_INTERMEDIATE}'): there is no intermediate-task cell to compare",
        "run the study's intermediate-task cells, then collect again")
  _check_baselines(out, baseline)
  return out


def _check_baselines(df: pd.DataFrame, baseline: pd.Series) -> None:
  """Every non-baseline number needs the same model+seed's baseline number."""
  base_cells = set(map(tuple, df.loc[baseline, ["model", "seed"]].to_numpy()))
  cells = df.loc[~baseline, list(CELL)].drop_duplicates()
  orphan = cells[[(m, s) not in base_cells
                  for m, s in cells[["model", "seed"]].to_numpy()]]
  if len(orphan):
    pairs = orphan.groupby(["model", "seed"], sort=True)
    listed = "; ".join(
        f"model {m} seed {s} (needed by {len(g)} cell(s): " + ", ".join(
            f"{t} n={n}" for t, n in g[["intermediate_task", "n_examples"]]
            .to_numpy()[:4]) + (", ..." if len(g) > 4 else "") + ")"
        for (m, s), g in list(pairs)[:_SHOWN])
    raise errors.DataError(
        f"missing baseline cell(s) (intermediate_task '{NO_INTERMEDIATE}', "
        f"n_examples 0) for {pairs.ngroups} model/seed pair(s): {listed}",
        "run those baseline cells (`xferjax study --list` shows their "
        "index), then collect again; every gain is paired with the baseline "
        "of the same model and seed")
  base_keys = pd.MultiIndex.from_frame(df.loc[baseline, list(PAIRING)])
  rows = df.loc[~baseline, list(PAIRING)]
  lacking = ~pd.MultiIndex.from_frame(rows).isin(base_keys)
  if lacking.any():
    missing = rows[lacking].drop_duplicates()
    raise errors.DataError(
        f"the baseline cells lack {len(missing)} measurement(s) that other "
        f"cells of the same model and seed have: "
        f"{_describe_rows(missing, PAIRING)}",
        "re-run or re-collect those baseline cells so that every cell's "
        "target tasks, languages, splits and metrics are in its baseline")


def check_examples(df: pd.DataFrame) -> pd.DataFrame:
  """A typed copy of the per-example table, or a DataError."""
  _require_columns(df, EXAMPLE_COLUMNS, "examples")
  out = _normalise(df, EXAMPLE_COLUMNS, "examples")
  _reject_duplicates(out, RESULT_KEY + ("example_index",), "examples")
  return out
