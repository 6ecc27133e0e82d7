"""What `xferjax study --list` prints: each cell's phases and their cost.

The cost is the usual dense-transformer estimate, 6 x parameters x trained
tokens (forward + backward, every position counted as a token, evaluation
left out). It is labelled as such wherever it is printed; `xferjax plan`
gives compiled FLOPs and memory per device for one step.
"""

from __future__ import annotations

import dataclasses

from xferjax.study import pipeline, schedule
from xferjax.study.plots import format_count

METHOD = "6 x params x trained tokens (estimate; evaluation not counted)"


@dataclasses.dataclass(frozen=True)
class PhaseCost:
  name: str
  model_dir: str
  steps: int | None
  flops: float | None
  size_source: str  # how the training-set size was obtained, or ""
  shared: bool


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


def phase_costs(study: pipeline.Study, cell: pipeline.Cell,
                params: int) -> list[PhaseCost]:
  out = []
  for phase in pipeline.cell_phases(study, cell):
    source = ""
    if phase.length.epochs is None:
      steps = phase.run.num_steps
    else:
      n, source = schedule.estimate_train_examples(phase.run.task)
      steps = (None if n is None else schedule.steps_for(
          phase.length.epochs, n, phase.run.batch_size))
    flops = (None if steps is None else 6.0 * params * steps *
             phase.run.batch_size * tokens_per_example(phase.run))
    out.append(PhaseCost(phase.name, phase.run.model_dir, steps, flops,
                         source, phase.shared))
  return out


def _flops(x: float | None) -> str:
  return "?" if x is None else f"{x:.3g}"


def listing(study: pipeline.Study, cells, params: dict[str, int]) -> str:
  """The table `--list` prints: one row per cell, shared phases once."""
  lines = [f"{'cell':>4}  {'model':<18} {'intermediate':<28} {'seed':>4}  "
           f"{'steps':>9}  {'FLOPs':>9}"]
  seen_shared, total, unknown, notes = {}, 0.0, [], set()
  for cell in cells:
    costs = phase_costs(study, cell, params[cell.model])
    for c in costs:
      if c.shared and c.model_dir not in seen_shared:
        seen_shared[c.model_dir] = (cell.model, c)
    own = [c for c in costs if not c.shared]
    steps = [c.steps for c in own]
    flops = [c.flops for c in own]
    notes |= {f"{c.name} of {cell.condition}: training-set size "
              f"{c.size_source}" for c in own if c.size_source not in
              ("", "counted")}
    known = None not in flops
    if not known:
      unknown.append(cell.index)
    total += sum(f for f in flops if f is not None)
    lines.append(
        f"{cell.index:>4}  {cell.model:<18} {cell.condition:<28} "
        f"{cell.seed:>4}  "
        f"{sum(steps) if None not in steps else '?':>9}  "
        f"{_flops(sum(flops) if known else None):>9}")
  for model_dir, (model, c) in seen_shared.items():
    lines.append(f"   -  {model:<18} {c.name + ' (shared)':<28} {'':>4}  "
                 f"{c.steps if c.steps is not None else '?':>9}  "
                 f"{_flops(c.flops):>9}")
    total += c.flops or 0.0
  presets = sorted({c.model for c in cells})
  lines.append(f"{len(cells)} cells ({len(presets)} model(s): "
               + ", ".join(f"{m} {format_count(params[m])} params"
                           for m in presets) + ")")
  lines.append(f"total: {_flops(total)} FLOPs"
               + (f" for the cells with a known size (unknown: cells "
                  f"{unknown})" if unknown else "")
               + f"; cost = {METHOD}; shared phases counted once")
  lines += [f"note: {n}" for n in sorted(notes)]
  return "\n".join(lines)
