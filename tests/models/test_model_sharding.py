"""1 device and 8 fake devices give the same loss and gradients, for both
families, under pure data, FSDP and FSDP + tensor rules (dropout on: the
random bits do not depend on the sharding either)."""

import os
import subprocess
import sys

import jax
import numpy as np
import pytest
from flax import linen as nn

import sharded_grads

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def eight_devices(tmp_path_factory):
  out = tmp_path_factory.mktemp("sharded") / "grads.npz"
  proc = subprocess.run([sys.executable, os.path.join(HERE,
                                                      "sharded_grads.py"),
                         str(out)], capture_output=True, text=True,
                        timeout=900)
  assert proc.returncode == 0, proc.stderr[-3000:]
  # No layout XLA could only reach by replicating a whole array.
  assert "Involuntary full rematerialization" not in proc.stderr, (
      proc.stderr[-3000:])
  return dict(np.load(out))


@pytest.mark.parametrize("preset,head", sharded_grads.CASES)
def test_one_and_eight_devices_agree(eight_devices, preset, head):
  model, boxed, batch, rng = sharded_grads.case(preset, head)
  loss, grads = jax.jit(lambda p, b: sharded_grads.loss_and_grads(
      model, p, b, rng))(nn.meta.unbox(boxed), batch)
  reference = sharded_grads.flat(grads)
  # Each rule set split the embedding as it says: 1 (replicated), 4 (embed
  # over fsdp) and 2 x 2 (vocab over tensor, embed over fsdp) shards.
  expected_shards = {"DATA_PARALLEL_RULES": 1, "FSDP_RULES": 4,
                     "FSDP_TENSOR_RULES": 4}
  for rules, shards in expected_shards.items():
    key = f"{preset}/{head}/{rules}"
    assert int(eight_devices[f"{key}/embedding_shards"]) == shards, key
    np.testing.assert_allclose(eight_devices[f"{key}/loss"], loss,
                               atol=1e-5, rtol=0, err_msg=key)
    for name, g in reference.items():
      np.testing.assert_allclose(eight_devices[f"{key}/grad{name}"], g,
                                 atol=1e-5, rtol=0, err_msg=key + name)
    assert any(np.abs(g).max() > 1e-3 for g in reference.values())
