"""SeqIO sources whose location is read from gin when the data is needed.

Tasks are registered when `xferjax_tasks` is imported, before any gin file is
parsed, so no source may resolve its directory at registration time. Each
source here reads its gin macro in `dataset_fn`, i.e. on first use:

  TFDS_DATA_DIR       where prepared TFDS datasets live (local or gs://;
                      unset: TFDS's default, ~/tensorflow_datasets)
  <NAME>_DATA_DIR     the official files of one dataset (see
                      `xferjax.data.readers.layouts`), e.g. XQUAD_DATA_DIR

TFDS is never asked to download (`download=False`): a dataset that is not
prepared ends with a DataError saying how to prepare it. `either_source`
reads the official files when their macro is set and TFDS otherwise, so a
dataset both serve can come from either with the same examples.

Every source normalises its examples to one family schema (the `normalize`
functions of the task modules), so preprocessors never care where the data
came from.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import seqio
import tensorflow as tf

from xferjax import errors
from xferjax.data import vocab
from xferjax.data.readers import layouts
from xferjax.data.readers import seqio_source

TFDS_DATA_DIR_MACRO = "TFDS_DATA_DIR"
# "raise" (default): a malformed record is a DataError naming file and line;
# "skip": it is skipped and counted (logged per file).
ON_ERROR_MACRO = "DATA_ON_ERROR"

Normalize = Callable[[dict[str, Any]], dict[str, Any]]


def tfds_data_dir() -> str | None:
  return vocab.gin_macro_value(TFDS_DATA_DIR_MACRO)


def load_tfds(name: str, split: str, data_dir: str | None = None):
  """`tfds.load(name, split)` without download; a clear error if absent."""
  import tensorflow_datasets as tfds  # Lazy: keeps `import xferjax_tasks` fast.
  data_dir = data_dir or tfds_data_dir()
  try:
    return tfds.load(name, split=split, data_dir=data_dir, download=False,
                     shuffle_files=False)
  except (AssertionError, tfds.core.DatasetNotFoundError, FileNotFoundError
          ) as err:
    where = data_dir or "TFDS's default data dir (~/tensorflow_datasets)"
    raise errors.DataError(
        f"TFDS dataset {name!r} (split {split!r}) is not prepared in {where}:"
        f" {str(err).splitlines()[0][:200]}",
        f"on a machine with network run `tfds build {name} --data_dir=DIR` "
        f"(or `python -c \"import tensorflow_datasets as tfds; "
        f"tfds.builder('{name}', data_dir='DIR').download_and_prepare()\"`), "
        f"copy DIR here or to gs://, and pass "
        f"--gin.{TFDS_DATA_DIR_MACRO}=\"'DIR'\"") from None


def tfds_dataset_fn(name: str, normalize: Normalize,
                    split_map: Mapping[str, str] | None = None):
  """dataset_fn(split, shuffle_files) over a TFDS builder, normalised."""
  split_map = dict(split_map or {})

  def dataset_fn(split, shuffle_files, seed=None):
    del shuffle_files, seed  # Fixed order: ladders and resumption rely on it.
    ds = load_tfds(name, split_map.get(split, split))
    return ds.map(normalize, num_parallel_calls=tf.data.AUTOTUNE)

  return dataset_fn


def data_dir_of(layout_name: str) -> str | None:
  return vocab.gin_macro_value(layouts.get_layout(layout_name).gin_macro)


def files_dataset_fn(layout_name: str, read: Callable[..., Any],
                     schema: Mapping[str, Any],
                     normalize: Normalize | None = None, **read_kwargs):
  """dataset_fn over a reader `read(data_dir, split, **read_kwargs)`.

  The data dir is the layout's gin macro; unset, the layout's own error says
  what to download, from where, and which macro to set. gin macro
  DATA_ON_ERROR='skip' skips malformed records instead of failing.
  """

  def dataset_fn(split, shuffle_files, seed=None):
    del shuffle_files, seed
    data_dir = data_dir_of(layout_name) or ""  # "" -> the layout's error.
    on_error = vocab.gin_macro_value(ON_ERROR_MACRO) or "raise"
    ds = seqio_source.dataset_from_reader(
        lambda s: read(data_dir, s, on_error=on_error, **read_kwargs),
        schema, split)
    return ds if normalize is None else ds.map(
        normalize, num_parallel_calls=tf.data.AUTOTUNE)

  return dataset_fn


def either_dataset_fn(files_fn, tfds_fn, layout_name: str):
  """Official files when `<NAME>_DATA_DIR` is set in gin, else TFDS."""

  def dataset_fn(split, shuffle_files, seed=None):
    chosen = files_fn if data_dir_of(layout_name) else tfds_fn
    return chosen(split, shuffle_files, seed)

  return dataset_fn


def function_source(dataset_fn, splits: Sequence[str]) -> seqio.DataSource:
  return seqio.FunctionDataSource(dataset_fn, splits=list(splits))
