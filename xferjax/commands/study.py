"""`xferjax study`: the three-phase study from a gin file."""

import os

from xferjax.commands import gin_flags

HELP = "run the three-phase study from a gin file (e.g. demo.gin)"


def add_arguments(parser):
  gin_flags.add_arguments(parser)


def run(args) -> int:
  config_text = gin_flags.setup(args)
  from xferjax import partitioning
  from xferjax.models.encoder import EncoderConfig
  from xferjax.study.pipeline import Study, run_study

  study = Study()
  run_study(study, EncoderConfig(), partitioning.create_partitioner(),
            config_text)
  print(f"[xferjax] report: {os.path.join(study.output_dir, 'report.md')}")
  return 0
