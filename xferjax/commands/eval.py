"""`xferjax eval`: evaluate a trained run's checkpoint on tasks."""

from xferjax.commands import gin_flags

HELP = ("evaluate a trained run's checkpoint on tasks, any head, written in "
        "the XTREME layout (gin: runs/eval.gin)")


def add_arguments(parser):
  gin_flags.add_arguments(parser)


def run(args) -> int:
  gin_flags.setup(args)
  from xferjax.train.evaluate_run import EvalRun, run_eval

  results = run_eval(EvalRun())
  for task, metrics in results.items():
    shown = ", ".join(f"{k} {v:.2f}" for k, v in metrics.items()
                      if isinstance(v, float))
    print(f"{task}: {shown or 'no gold'} ({metrics['num_examples']} "
          "examples)")
  return 0
