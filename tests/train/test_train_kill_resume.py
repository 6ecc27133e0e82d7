"""SIGKILL at random steps, resume, and end bit-identical to an unbroken run.

Each training run is a real process (forked from a server that has the
libraries imported, see conftest) with async Orbax checkpoints every 3
steps and dropout on. It is killed with SIGKILL five times at random steps
(mid-step, mid-save, mid-log: wherever the signal lands), restarted each
time, and at the end its parameters, optimizer state and every per-step loss
equal those of a run that was never interrupted, bit for bit.
"""

import os
import random
import signal

import jax
import numpy as np
import orbax.checkpoint as ocp

from train_helpers import finish, losses_by_step, start_training, wait_for_step
from train_helpers import train_processes  # noqa: F401  (fixture)

NUM_STEPS = 24
OVERRIDES = {"num_steps": NUM_STEPS, "checkpoint_every": 3,
             "keep_checkpoints": 2, "async_checkpoints": True}
DELAY = 0.02  # seconds per step, so that the kills land mid-run


def _start(ctx, model_dir):
  return start_training(ctx, model_dir, OVERRIDES, step_delay=DELAY)


def _final_items(model_dir):
  """Every saved item of the final checkpoint, restored as saved."""
  step_dir = os.path.join(model_dir, "checkpoints", str(NUM_STEPS))
  items = sorted(n for n in os.listdir(step_dir)
                 if n.startswith("params.") or n == "train")
  with ocp.StandardCheckpointer() as c:
    return {n: c.restore(os.path.join(step_dir, n)) for n in items}


def test_sigkill_five_times_then_bit_identical(train_processes, tmp_path):
  reference = tmp_path / "reference"
  p = _start(train_processes, reference)
  assert finish(p) == 0

  rng = random.Random(1234)
  broken = tmp_path / "killed"
  kills, seen_before_kill = [], {}
  while len(kills) < 5:
    resumed_at = max((int(s) for s in os.listdir(broken / "checkpoints")
                      if s.isdigit()), default=0) if broken.exists() else 0
    target = rng.randint(min(resumed_at + 1, NUM_STEPS - 3), NUM_STEPS - 3)
    p = _start(train_processes, broken)
    reached = wait_for_step(broken, target, p)
    os.kill(p.pid, signal.SIGKILL)
    assert finish(p, 30) == -signal.SIGKILL, (
        f"the run ended before the kill at step {target} (got {reached})")
    kills.append(reached)
    # What the killed process logged must already match the reference.
    seen_before_kill.update(losses_by_step(broken))
    assert not (broken / "results.json").exists()
  p = _start(train_processes, broken)
  assert finish(p) == 0, kills
  assert (broken / "results.json").exists()

  want = losses_by_step(reference)
  assert sorted(want) == list(range(1, NUM_STEPS + 1))
  assert losses_by_step(broken) == want  # exact float equality, every step
  for step, loss in seen_before_kill.items():
    assert loss == want[step], (step, kills)
  ref_items, got_items = _final_items(reference), _final_items(broken)
  assert sorted(ref_items) == sorted(got_items)
  for name in ref_items:
    ref_leaves = jax.tree.leaves(ref_items[name])
    got_leaves = jax.tree.leaves(got_items[name])
    assert len(ref_leaves) == len(got_leaves) > 0
    for a, b in zip(ref_leaves, got_leaves):
      np.testing.assert_array_equal(np.asarray(a), np.asarray(b),
                                    err_msg=name)
  # Nothing was judged damaged on the way.
  assert not (broken / "checkpoints_corrupt").exists()
