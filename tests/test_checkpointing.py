"""A saved and restored train state is identical; transfer restores parts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from xferjax import errors, partitioning
from xferjax.models.encoder import EncoderModel
from xferjax.train import checkpointing, optimizer as optimizer_lib
from xferjax.train.steps import TrainState
from xferjax.train.trainer import state_shardings_of, prepare_model


@pytest.fixture(autouse=True)
def _no_gin_bindings():
  """Configs here are built in Python; bindings an earlier in-process CLI
  test left (EncoderConfig.dtype, ...) must not change them."""
  import gin
  gin.clear_config()


def _state(cfg, head="classification", seed=0):
  partitioner = partitioning.create_partitioner()
  prepared = prepare_model(EncoderModel(cfg, head=head, num_labels=3),
                           partitioner)
  opt = optimizer_lib.make_optimizer(learning_rate=1e-3, total_steps=10)
  params = prepared.init_params(seed)
  # A non-trivial optimizer state: one update from a fake gradient.
  grads = jax.tree.map(jnp.ones_like, params)
  opt_state = opt.init(params)
  _, opt_state = opt.update(grads, opt_state, params)
  return prepared, opt, TrainState(jnp.asarray(7, jnp.int32), params,
                                   opt_state)


def _assert_trees_equal(a, b):
  leaves_a, tree_a = jax.tree.flatten(a)
  leaves_b, tree_b = jax.tree.flatten(b)
  assert tree_a == tree_b
  for x, y in zip(leaves_a, leaves_b):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_save_restore_identical(tmp_path, tiny_model_cfg):
  prepared, opt, state = _state(tiny_model_cfg)
  ckpt = checkpointing.Checkpointer(str(tmp_path))
  ckpt.save(state)
  ckpt.close()

  shardings = state_shardings_of(prepared, opt)
  abstract = checkpointing.abstract_like(
      jax.eval_shape(lambda: state), shardings)
  restored = checkpointing.Checkpointer(str(tmp_path)).restore(abstract)
  assert int(restored.step) == 7
  _assert_trees_equal(restored.params, state.params)
  _assert_trees_equal(restored.opt_state, state.opt_state)


def test_restore_encoder_only_into_other_head(tmp_path, tiny_model_cfg):
  _, _, mlm_state = _state(tiny_model_cfg, head="mlm", seed=1)
  ckpt = checkpointing.Checkpointer(str(tmp_path))
  ckpt.save(mlm_state)
  ckpt.close()
  prepared, _, _ = _state(tiny_model_cfg, head="classification", seed=2)
  restored = checkpointing.Checkpointer(str(tmp_path)).restore_params(
      {"encoder": prepared.abstract_params["encoder"]})
  _assert_trees_equal(restored["encoder"], mlm_state.params["encoder"])


def test_missing_checkpoint_is_a_clear_error(tmp_path):
  with pytest.raises(errors.CheckpointError, match="no checkpoint found"):
    checkpointing.Checkpointer(str(tmp_path)).restore_params({"encoder": {}})


def _abstract(prepared, opt, state):
  return checkpointing.abstract_like(jax.eval_shape(lambda: state),
                                     state_shardings_of(prepared, opt))


def _save_steps(tmp_path, states):
  ckpt = checkpointing.Checkpointer(str(tmp_path), max_to_keep=None)
  for s in states:
    ckpt.save(s)
  ckpt.close()


def _flip_a_byte(step_dir):
  """Same size, other bytes: only the CRC32 can tell."""
  import os
  files = [os.path.join(r, n) for r, _, ns in os.walk(step_dir) for n in ns
           if "ocdbt.process_0" in r]
  path = max(files, key=os.path.getsize)
  with open(path, "r+b") as f:
    f.seek(os.path.getsize(path) // 2)
    byte = f.read(1)
    f.seek(-1, 1)
    f.write(bytes([byte[0] ^ 0xFF]))


@pytest.mark.parametrize("damage", ["flipped_byte", "no_manifest_truncated"])
def test_damaged_latest_falls_back_and_is_moved_not_deleted(
    tmp_path, tiny_model_cfg, capsys, damage):
  import os
  from xferjax.train import checkpoint_manifest
  prepared, opt, state = _state(tiny_model_cfg)
  later = state.replace(step=jnp.asarray(9, jnp.int32), params=jax.tree.map(
      lambda x: x + 1, state.params))
  _save_steps(tmp_path, [state, later])
  step_dir = os.path.join(tmp_path, "checkpoints", "9")
  if damage == "flipped_byte":
    _flip_a_byte(step_dir)
  else:  # died between commit and manifest, then lost data
    os.unlink(os.path.join(step_dir, checkpoint_manifest.MANIFEST_FILE))
    data = os.path.join(step_dir, "params.encoder", "ocdbt.process_0")
    for root, _, names in os.walk(data):
      for name in names:
        open(os.path.join(root, name), "w").close()
  files_before = sorted(n for _, _, ns in os.walk(step_dir) for n in ns)
  ckpt = checkpointing.Checkpointer(str(tmp_path))
  restored, _ = ckpt.restore_latest_valid(_abstract(prepared, opt, state),
                                          lambda saved: None)
  ckpt.close()
  assert int(restored.step) == 7
  _assert_trees_equal(restored.params, state.params)
  out = capsys.readouterr().out
  assert "warning: checkpoint step 9" in out and "is damaged" in out
  if damage == "flipped_byte":
    assert "different checksum" in out
  moved = os.path.join(tmp_path, checkpointing.CORRUPT_DIR, "9")
  assert sorted(n for _, _, ns in os.walk(moved) for n in ns) == files_before
  assert not os.path.exists(step_dir)


def test_other_shape_without_run_state_is_a_shape_error(tmp_path,
                                                         tiny_model_cfg):
  """Checkpoints without a run state (older runs) are still checked
  against the model's shapes before anything is restored."""
  import dataclasses
  import os
  _, _, state = _state(tiny_model_cfg)
  _save_steps(tmp_path, [state])
  wider = dataclasses.replace(tiny_model_cfg, d_ff=128)
  prepared, opt, other = _state(wider)
  listing = sorted(os.listdir(os.path.join(tmp_path, "checkpoints")))
  ckpt = checkpointing.Checkpointer(str(tmp_path))
  with pytest.raises(errors.ShapeError, match="mlp/wi/kernel"):
    ckpt.restore_latest_valid(_abstract(prepared, opt, other),
                              lambda saved: None)
  ckpt.close()
  assert sorted(os.listdir(os.path.join(tmp_path, "checkpoints"))) == listing


def test_single_array_collection_round_trips(tmp_path):
  """mT5's untied lm_head is a bare array, not a tree."""
  params = {"encoder": {"w": jnp.arange(6.0).reshape(2, 3)},
            "lm_head": jnp.arange(4.0)}
  state = TrainState(jnp.asarray(1, jnp.int32), params, {})
  ckpt = checkpointing.Checkpointer(str(tmp_path))
  ckpt.save(state)
  ckpt.close()
  abstract = jax.tree.map(
      lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), params)
  restored = checkpointing.Checkpointer(
      str(tmp_path), read_only=True).restore_params(abstract)
  _assert_trees_equal(restored, params)
