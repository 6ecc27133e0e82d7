"""`xferjax tasks list|show NAME`: what the SeqIO registries hold."""

from xferjax import errors
from xferjax.commands import gin_flags

HELP = "list or show registered SeqIO tasks and mixtures"


def add_arguments(parser):
  parser.add_argument("action", choices=("list", "show"))
  parser.add_argument("name", nargs="?")
  gin_flags.add_module_flag(parser)


def run(args) -> int:
  gin_flags.import_task_modules(args)
  import seqio
  from xferjax.data import pipeline

  if args.action == "list":
    for name in sorted(seqio.TaskRegistry.names()):
      print(name)
    for name in sorted(seqio.MixtureRegistry.names()):
      print(f"{name} (mixture)")
    return 0
  if not args.name:
    raise errors.ConfigError("`xferjax tasks show` needs a task name",
                             "e.g. xferjax tasks show synthetic_nli.en")
  task = pipeline.get_task_or_mixture(args.name)
  print(f"name: {task.name}")
  print(f"splits: {', '.join(sorted(task.splits))}")
  for key, feature in task.output_features.items():
    labels = getattr(feature.vocabulary, "label_names", None)
    desc = (f"labels {list(labels)}" if labels else
            f"{type(feature.vocabulary).__name__}"
            f"(size {feature.vocabulary.vocab_size})")
    print(f"feature {key}: {desc}")
  return 0
