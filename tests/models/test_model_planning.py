"""The planner predicts what the real program needs, and says what to do
when it does not fit."""

import json
import os
import subprocess
import sys

import pytest

from xferjax import errors

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def plan_and_real():
  proc = subprocess.run([sys.executable, os.path.join(HERE,
                                                      "plan_vs_real.py")],
                        capture_output=True, text=True, timeout=900)
  assert proc.returncode == 0, proc.stderr[-3000:]
  line = [l for l in proc.stdout.splitlines() if l.startswith("RESULT=")][-1]
  return json.loads(line[len("RESULT="):])


def test_prediction_within_ten_percent_of_the_real_program(plan_and_real):
  plan, real = plan_and_real["plan"], plan_and_real["real"]
  predicted = plan["per_device_bytes"]
  # Parameters and optimizer state: what device 0 really holds.
  assert predicted["params"] == real["params"]
  assert predicted["optimizer_state"] == real["optimizer_state"]
  assert abs(predicted["total"] - real["total"]) <= 0.1 * real["total"]
  assert real["loss_finite"]
  assert plan["mesh"] == {"data": 2, "fsdp": 2, "tensor": 1}
  assert plan["rules"] == "FSDP_RULES"
  assert plan["flops_per_step"]["total"] > 0


def test_no_fit_comes_with_a_checked_suggestion(plan_and_real):
  plan = plan_and_real["plan"]
  assert not plan["fits"] and plan["headroom_gib"] < 0
  suggestion = plan["suggestion"]
  assert suggestion["change"]  # names what to change
  if suggestion["checked"]:
    assert suggestion["total_gib"] < plan["per_device_gib"]["total"]


def test_unknown_topology_lists_the_known_ones():
  from xferjax.commands import plan
  with pytest.raises(errors.ConfigError, match="unknown topology 'v9-8'") as e:
    plan.topology_file("v9-8")
  assert "v4-128" in e.value.fix and "v5e-16" in e.value.fix
