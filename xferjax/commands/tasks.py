"""`xferjax tasks list|show NAME|preview NAME`: what the registries hold.

`preview` decodes the first examples of a split (`--split`, `--n`) as the
task's preprocessors leave them, so it needs the task's data and
vocabulary: set their gin macros with `--gin.X=...` or a `--gin_file`
(e.g. --gin.XLMR_VOCAB_PATH="'/path/sentencepiece.bpe.model'").
"""

from __future__ import annotations

from xferjax import errors
from xferjax.commands import gin_flags

HELP = "list, show or preview registered SeqIO tasks and mixtures"


def add_arguments(parser):
  gin_flags.add_arguments(parser)
  parser.add_argument("action", choices=("list", "show", "preview"))
  parser.add_argument("name", nargs="?")
  parser.add_argument("--split", default="validation",
                      help="split to preview (default: validation)")
  parser.add_argument("--n", type=int, default=3,
                      help="number of examples to preview (default: 3)")


def run(args) -> int:
  from xferjax import config
  gin_flags.import_task_modules(args)
  if args.gin_file or args.gin_bindings:
    config.parse(args.gin_file, args.gin_bindings, args.gin_search_paths)
  import seqio
  from xferjax.data import mixing

  if args.action == "list":
    for name in sorted(seqio.TaskRegistry.names()):
      print(name)
    for name in sorted(seqio.MixtureRegistry.names()):
      print(f"{name} (mixture)")
    for name in mixing.multitask_names():
      print(f"{name} (multi-head mixture)")
    return 0
  if not args.name:
    raise errors.ConfigError(f"`xferjax tasks {args.action}` needs a name",
                             f"e.g. xferjax tasks {args.action} xnli.de")
  if args.action == "show":
    print("\n".join(describe(args.name)))
  else:
    print("\n".join(preview(args.name, args.split, args.n)))
  return 0


def describe(name: str) -> list[str]:
  """Lines saying what `name` is: splits, features, head, rates."""
  import seqio
  from xferjax.data import features, mixing, pipeline

  task = pipeline.get_task_or_mixture(name)
  if isinstance(task, mixing.MultiTaskMixture):
    return [f"name: {task.name} (multi-head mixture; one task per step)"] + [
        f"task {t}: p={p:.4f}" for t, p in task.probabilities().items()]
  lines = [f"name: {task.name}", f"splits: {', '.join(sorted(task.splits))}"]
  if isinstance(task, seqio.Mixture):
    lines[0] += " (mixture)"
    lines += [f"task {t.name}: rate {task.get_rate(t):.1f}"
              for t in task.tasks]
    return lines
  try:
    lines.append(f"head: {features.head_of(task)}")
  except errors.ConfigError:
    pass
  for key, feature in task.output_features.items():
    vocabulary = feature.vocabulary
    if isinstance(vocabulary, features.LazyLabelVocabulary):
      desc = "labels built from the training data on first use"
    elif isinstance(vocabulary, features.LabelVocabulary):
      names = list(vocabulary.label_names)
      desc = f"labels {names}" if len(names) <= 40 else (
          f"{len(names)} labels {names[:10]} ...")
    elif hasattr(vocabulary, "_macro"):
      desc = f"{type(vocabulary).__name__} (path: gin {vocabulary._macro})"
    else:
      desc = (f"{type(vocabulary).__name__}"
              f"(size {vocabulary.vocab_size})")
    lines.append(f"feature {key}: {desc}")
  return lines


def preview(name: str, split: str, n: int) -> list[str]:
  """The first `n` examples of `split`, every feature decoded."""
  import numpy as np
  import seqio
  from xferjax.data import features, pipeline

  task = pipeline.get_task_or_mixture(name)
  if not isinstance(task, seqio.Task):
    raise errors.ConfigError(f"{name!r} is a mixture; preview one of its "
                             "tasks", f"see `xferjax tasks show {name}`")
  if split not in task.splits:
    raise errors.ConfigError(f"{name!r} has no split {split!r}",
                             f"use --split with one of "
                             f"{sorted(task.splits)}")
  ds = task.get_dataset(sequence_length=None, split=split, shuffle=False,
                        use_cached=False, try_in_mem_cache=False)
  lines = []
  for i, ex in enumerate(ds.take(n).as_numpy_iterator()):
    lines.append(f"--- example {i}")
    for key, value in ex.items():
      lines.append(f"{key}: {_shown(value, task.output_features.get(key))}"
                   [:300])
  return lines


def _shown(value, feature) -> str:
  """One feature value as text: ids decoded with the feature's vocabulary."""
  import numpy as np
  from xferjax.data import features

  if isinstance(value, dict):
    return "{" + ", ".join(f"{k}: {_shown(v, None)}"
                           for k, v in value.items()) + "}"
  value = np.asarray(value)
  if feature is not None and value.dtype.kind in "iu":
    ids = value.reshape(-1).tolist()
    vocabulary = feature.vocabulary
    if isinstance(vocabulary, features.LabelVocabulary):
      names = vocabulary.label_names
      shown = [names[j] if 0 <= j < len(names) else str(j) for j in ids]
      return str(shown if value.ndim else shown[0])
    return repr(vocabulary.decode(ids))
  if value.dtype.kind in "SO":
    decode = lambda b: b.decode("utf-8", "replace")
    return repr([decode(v) for v in value.tolist()] if value.ndim
                else decode(value.item()))
  return str(value.tolist())
