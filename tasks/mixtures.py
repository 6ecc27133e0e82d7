"""The multi-task mixture of the English intermediate tasks, and its ladder.

  intermediate_mixture            encoder tasks, one head per task
                                  (`xferjax.data.mixing.MultiTaskMixture`)
  mt5.intermediate_mixture        the text-to-text tasks (a seqio.Mixture)
  intermediate_mixture_n<N>       each task capped at its nested N-subset
  mt5.intermediate_mixture_n<N>   (the same for text-to-text)

Rates are `xferjax.data.mixing.MixingRates` of each task's official train
size (capped at N in a ladder): proportional by default, temperature-scaled
with e.g. `--gin.xferjax.data.mixing.MixingRates.temperature=2.0`; they are
computed when the mixture is read, so the gin binding in force then counts.
"""

from __future__ import annotations

from xferjax.data import ladders, mixing
from xferjax_tasks import common
from xferjax_tasks import intermediate

NAME = "intermediate_mixture"


def sizes(n: int | None = None) -> dict[str, int]:
  """Task name -> train size of the mixture's tasks (ladder N if given)."""
  return {(name if n is None else ladders.ladder_name(name, n)):
          (size if n is None else min(size, n))
          for name, size in intermediate.TRAIN_SIZES.items()}


def register() -> list[str]:
  names = []
  for n in (None, *intermediate.LADDER_SIZES):
    name = NAME if n is None else ladders.ladder_name(NAME, n)
    task_sizes = sizes(n)
    mixing.add_multitask(name, task_sizes)
    common.add_mixture(common.t2t_name(name), [
        (common.t2t_name(task), mixing.rate_fn(size))
        for task, size in task_sizes.items()])
    names += [name, common.t2t_name(name)]
  return names


MIXTURE_NAMES = register()
