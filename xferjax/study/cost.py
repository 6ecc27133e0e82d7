"""What `xferjax study --list` prints: each cell's phases and their cost.

A phase's training FLOPs are `xferjax plan`'s model FLOPs of one step
(`planning.model_flops`: 6 per weight and token it multiplies, plus the
attention scores, for the phase's head, batch and lengths) times its steps.
Where that cannot be built (no model config given, a head the planner does
not know), the dense-transformer estimate 6 x parameters x trained tokens
stands in, and the listing says which was used. Evaluation is not counted.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from xferjax.study import pipeline, schedule
from xferjax.study.plots import format_count

PLAN_METHOD = "xferjax plan's model FLOPs per step x steps"
ESTIMATE_METHOD = "6 x params x trained tokens (estimate)"


@dataclasses.dataclass(frozen=True)
class PhaseCost:
  name: str
  model_dir: str
  steps: int | None
  flops: float | None
  size_source: str  # how the training-set size was obtained, or ""
  shared: bool
  method: str = ESTIMATE_METHOD
  task: str = ""


def _span_window() -> int:
  """The span converter's window (it cuts contexts itself)."""
  import inspect

  from xferjax.data.span import EncoderSpanConverter
  return inspect.signature(EncoderSpanConverter).parameters[
      "max_length"].default


def tokens_per_example(run) -> int:
  """Positions one training example fills, as the head's converter lays it
  out (special tokens included; a QA example counted as one window)."""
  lengths = run.task_feature_lengths
  if run.head == "span":
    return _span_window()
  if run.head == "tagging":
    return lengths["tokens"] + 2
  if run.head == "multiple_choice":
    choices = [k for k in lengths if k.startswith("choice_")]
    return len(choices) * (lengths["text_a"] + 3 +
                           max(lengths[c] for c in choices))
  if run.head == "text_to_text":
    return sum(lengths.values())  # encoder inputs + decoder targets
  return sum(lengths.values()) + 3


def _plan_settings(run):
  from xferjax import planning

  lengths = run.task_feature_lengths
  if run.head == "text_to_text":
    return planning.PlanSettings(head=run.head, batch_size=run.batch_size,
                                 length=lengths["inputs"],
                                 target_length=lengths["targets"])
  if run.head == "multiple_choice":
    choices = len([k for k in lengths if k.startswith("choice_")])
    return planning.PlanSettings(
        head=run.head, num_labels=choices, batch_size=run.batch_size,
        length=tokens_per_example(run) // choices)
  return planning.PlanSettings(head=run.head, batch_size=run.batch_size,
                               length=tokens_per_example(run))


@functools.lru_cache(maxsize=None)
def _step_flops(family: str, model_cfg: Any, settings) -> float:
  from xferjax import planning
  from xferjax.models import api

  model = api.build_model(head=settings.head, num_labels=settings.num_labels,
                          family=family, config=model_cfg)
  return planning.model_flops(model, settings)


def step_flops(model: tuple[str, Any] | None, run, params: int
               ) -> tuple[float, str]:
  """(training FLOPs of one step of `run`, how they were obtained)."""
  if model is not None:
    try:
      return _step_flops(*model, _plan_settings(run)), PLAN_METHOD
    except Exception:  # pylint: disable=broad-except
      pass  # a head or shape the planner cannot build: the estimate below
  return (6.0 * params * run.batch_size * tokens_per_example(run),
          ESTIMATE_METHOD)


def phase_costs(study: pipeline.Study, cell: pipeline.Cell, params: int,
                model: tuple[str, Any] | None = None) -> list[PhaseCost]:
  """Steps and FLOPs of each phase; `model` is (family, config)."""
  out = []
  for phase in pipeline.cell_phases(study, cell):
    if phase.run is None:  # evaluation-only: no training FLOPs
      continue
    source = ""
    if phase.length.epochs is None:
      steps = phase.run.num_steps
    else:
      n, source = schedule.estimate_train_examples(phase.run.task)
      steps = (None if n is None else schedule.steps_for(
          phase.length.epochs, n, phase.run.batch_size))
    per_step, method = step_flops(model, phase.run, params)
    flops = None if steps is None else per_step * steps
    out.append(PhaseCost(phase.name, phase.run.model_dir, steps, flops,
                         source, phase.shared, method, phase.run.task))
  return out


def _flops(x: float | None) -> str:
  return "?" if x is None else f"{x:.3g}"


def _cell_text(values, fmt: str = ".3g") -> str:
  """Sum of the known values, '+?' when some are unknown."""
  known = [v for v in values if v is not None]
  if not known:
    return "?"
  text = format(sum(known), fmt)
  return text + "+?" if len(known) < len(values) else text


def listing(study: pipeline.Study, cells, params: dict[str, int],
            models: dict[str, tuple[str, Any]] | None = None) -> str:
  """The table `--list` prints: one row per cell, shared phases once.
  `models` maps a preset name to its (family, config). A '+?' marks a cell
  with phases whose training-set size is unknown here (left out)."""
  models = models or {}
  methods, published, unknown = set(), set(), set()
  lines = [f"{'cell':>4}  {'model':<18} {'intermediate':<28} {'seed':>4}  "
           f"{'steps':>10}  {'FLOPs':>10}"]
  seen_shared, total = {}, 0.0
  for cell in cells:
    costs = phase_costs(study, cell, params[cell.model],
                        models.get(cell.model))
    methods |= {c.method for c in costs}
    published |= {c.task for c in costs if c.size_source == "published size"}
    unknown |= {c.task for c in costs if c.size_source == "unknown"}
    for c in costs:
      if c.shared and c.model_dir not in seen_shared:
        seen_shared[c.model_dir] = (cell.model, c)
    own = [c for c in costs if not c.shared]
    total += sum(c.flops for c in own if c.flops is not None)
    lines.append(
        f"{cell.index:>4}  {cell.model:<18} {cell.condition:<28} "
        f"{cell.seed:>4}  {_cell_text([c.steps for c in own], 'd'):>10}  "
        f"{_cell_text([c.flops for c in own]):>10}")
  for model_dir, (model, c) in seen_shared.items():
    lines.append(f"   -  {model:<18} {c.name + ' (shared)':<28} {'':>4}  "
                 f"{c.steps if c.steps is not None else '?':>10}  "
                 f"{_flops(c.flops):>10}")
    total += c.flops or 0.0
  presets = sorted({c.model for c in cells})
  lines.append(f"{len(cells)} cells ({len(presets)} model(s): "
               + ", ".join(f"{m} {format_count(params[m])} params"
                           for m in presets) + ")")
  lines.append(f"total: {_flops(total)} FLOPs"
               + (" (phases of unknown size left out)" if unknown else "")
               + f"; cost = {' or '.join(sorted(methods))}; evaluation "
               "not counted; shared phases counted once")
  if published:
    lines.append("note: training-set sizes from published statistics (the "
                 "data is not on this machine): " + ", ".join(
                     sorted(published)))
  if unknown:
    lines.append("note: training-set size unknown (not on this machine, "
                 "none published in xferjax.study.schedule): " + ", ".join(
                     sorted(unknown)))
  return "\n".join(lines)
