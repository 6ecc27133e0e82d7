"""A saved and restored train state is identical; transfer restores parts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from xferjax import errors, partitioning
from xferjax.models.encoder import EncoderModel
from xferjax.train import checkpointing, optimizer as optimizer_lib
from xferjax.train.steps import TrainState
from xferjax.train.trainer import _state_shardings, prepare_model


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

  shardings = _state_shardings(prepared, opt)
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
