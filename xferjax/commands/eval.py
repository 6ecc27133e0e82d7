"""`xferjax eval`: evaluate a trained run's checkpoint on tasks."""

from xferjax.commands import gin_flags

HELP = "evaluate a trained run's checkpoint on tasks (gin: runs/eval.gin)"


def add_arguments(parser):
  gin_flags.add_arguments(parser)


def run(args) -> int:
  gin_flags.setup(args)
  from xferjax.train.evaluate_run import EvalRun, run_eval

  results = run_eval(EvalRun())
  for task, metrics in results.items():
    print(f"{task}: accuracy {metrics['accuracy']:.2f} "
          f"({metrics['num_examples']} examples)")
  return 0
