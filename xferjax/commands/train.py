"""`xferjax train`: one training run (task, head, steps) from gin."""

from xferjax.commands import gin_flags

HELP = "train one run (task, head, steps) from gin"


def add_arguments(parser):
  gin_flags.add_arguments(parser)


def run(args) -> int:
  config_text = gin_flags.setup(args)
  from xferjax import partitioning
  from xferjax.models.encoder import EncoderConfig
  from xferjax.train.trainer import TrainRun, run_training

  results = run_training(TrainRun(), EncoderConfig(),
                         partitioning.create_partitioner(), config_text)
  for task, metrics in results["eval"].items():
    print(f"{task}: accuracy {metrics['accuracy']:.2f}")
  return 0
