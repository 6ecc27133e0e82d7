"""Facts about registered tasks that a seqio Task cannot carry, for evaluation.

A text-to-text classification task's targets are strings ('0'/'1'/'2' for
multilingual-t5's XNLI, label names for GLUE-style tasks); evaluating
generated text needs those strings, in class order, and the class names
the encoder twin of the task uses. BUCC's gold pairs live in a file of
their own, not in the task's examples. The task modules record such facts
here when they register a task, so the evaluator never imports them.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

# Registry prefix of the text-to-text (mT5 family) twin of a task.
T2T_PREFIX = "mt5."


@dataclasses.dataclass(frozen=True)
class TaskInfo:
  # Text-to-text classification: target string of each class, in order,
  # and the class names (what the XTREME layout writes for xnli).
  target_labels: tuple[str, ...] | None = None
  class_names: tuple[str, ...] | None = None
  # Retrieval (BUCC): split -> gold (source id, target id) pairs, or None
  # when that split has no gold.
  gold_pairs: Callable[[str], Sequence[tuple[str, str]] | None] | None = None


_INFO: dict[str, TaskInfo] = {}


def set_info(name: str, **fields) -> TaskInfo:
  """Records (or updates) facts about the task registered as `name`."""
  info = dataclasses.replace(_INFO.get(name, TaskInfo()), **fields)
  _INFO[name] = info
  return info


def info_of(name: str) -> TaskInfo:
  return _INFO.get(name, TaskInfo())
