"""`xferjax train`: one training run (task, head, steps) from gin."""

from xferjax.commands import gin_flags

HELP = "train one run (task, head, steps) from gin"


def add_arguments(parser):
  gin_flags.add_arguments(parser)


def run(args) -> int:
  config_text = gin_flags.setup(args)
  from xferjax import partitioning
  from xferjax.train.trainer import TrainRun, run_training

  # The model family and its config come from gin (model_family.family,
  # EncoderConfig.* / T5Config.*).
  results = run_training(TrainRun(), None, partitioning.create_partitioner(),
                         config_text)
  for task, metrics in results["eval"].items():
    shown = ", ".join(f"{k} {v:.2f}" for k, v in metrics.items()
                      if k != "num_examples" and isinstance(v, (int, float)))
    print(f"{task}: {shown}")
  return 0
