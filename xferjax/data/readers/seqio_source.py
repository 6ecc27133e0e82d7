"""Turns any reader into a `seqio.FunctionDataSource`.

Task registrations call `reader_source(read_split, FEATURES, splits)` with a
function `split -> iterable of dicts` and the reader's `FEATURES`. Dataset
readers all take `(data_dir, split, ...)`, so `read_split` is usually
`functools.partial(squad_json.read_xquad, data_dir, language="zh")`. This
module holds the only TensorFlow code of the readers package.

Errors: `read_split(split)` is called once when the dataset is built, so a
missing file or unknown language raises its DataError/ConfigError right
there; a malformed record found while the dataset is iterated surfaces as a
TensorFlow error whose message contains the DataError text (file, line, fix).
"""

from typing import Any, Callable, Iterable, Mapping, Sequence

import seqio
import tensorflow as tf

from xferjax.data.readers import common

ReadSplit = Callable[[str], Iterable[common.Example]]
Schema = Mapping[str, Any]  # Feature, or a nested Schema

_DTYPES = {"string": tf.string, "int32": tf.int32, "bool": tf.bool}


def output_signature(schema: Schema) -> dict[str, Any]:
  """Nested `tf.TensorSpec`s for a reader's FEATURES."""
  signature = {}
  for name, feature in schema.items():
    if isinstance(feature, common.Feature):
      shape = [None] if feature.is_list else []
      signature[name] = tf.TensorSpec(shape, _DTYPES[feature.dtype], name=name)
    else:
      signature[name] = output_signature(feature)
  return signature


def _select(example: Mapping[str, Any], schema: Schema) -> dict[str, Any]:
  """Keeps the declared fields; a missing one is a bug in the reader."""
  selected = {}
  for name, feature in schema.items():
    if name not in example:
      raise KeyError(f"reader example lacks declared feature {name!r}; "
                     f"it has {sorted(example)}")
    value = example[name]
    selected[name] = (value if isinstance(feature, common.Feature)
                      else _select(value, feature))
  return selected


def dataset_from_reader(read_split: ReadSplit, schema: Schema,
                        split: str) -> tf.data.Dataset:
  """A tf.data.Dataset that re-runs `read_split(split)` on each iteration."""
  read_split(split)  # Resolves paths now: a missing file raises here.
  signature = output_signature(schema)

  def generate():
    for example in read_split(split):
      yield _select(example, schema)

  return tf.data.Dataset.from_generator(generate,
                                        output_signature=signature)


def reader_source(read_split: ReadSplit, schema: Schema,
                  splits: Sequence[str],
                  num_input_examples: Mapping[str, int] | None = None,
                  caching_permitted: bool = True
                 ) -> seqio.FunctionDataSource:
  """A SeqIO source over a reader.

  Files are always read in the same order: `shuffle_files` and `seed` are
  accepted and ignored (SeqIO still shuffles examples when asked to, and
  caching the task gives proper shuffling for training).
  """

  def dataset_fn(split: str, shuffle_files: bool,
                 seed: int | None = None) -> tf.data.Dataset:
    del shuffle_files, seed  # Readers stream files in a fixed order.
    return dataset_from_reader(read_split, schema, split)

  return seqio.FunctionDataSource(dataset_fn, splits=splits,
                                  num_input_examples=num_input_examples,
                                  caching_permitted=caching_permitted)
