"""Learning-rate schedules and Adafactor, as gin configures them."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from xferjax import errors, partitioning
from xferjax.models import api
from xferjax.models.encoder import EncoderConfig
from xferjax.train import optimizer as optimizer_lib
from xferjax.train.steps import TrainState, make_train_step
from xferjax.train.trainer import state_shardings_of, prepare_model
from train_helpers import clean_gin  # noqa: F401  (autouse fixture)

LR, TOTAL, WARMUP = 1e-3, 100, 10


@pytest.mark.parametrize("decay,checks", [
    # (step, expected learning rate)
    ("linear", [(55, 0.5e-3), (100, 0.0)]),
    ("cosine", [(55, 0.5e-3), (100, 0.0)]),
    ("rsqrt", [(40, 0.5e-3), (100, LR * np.sqrt(10 / 100))]),
    ("constant", [(55, LR), (100, LR)]),
])
def test_warmup_then_decay(decay, checks):
  schedule = optimizer_lib.learning_rate_schedule(LR, TOTAL, WARMUP, decay)
  # Linear warmup from 0 to the peak, the same for every decay.
  np.testing.assert_allclose(float(schedule(0)), 0.0, atol=1e-12)
  np.testing.assert_allclose(float(schedule(5)), 0.5e-3, rtol=1e-6)
  np.testing.assert_allclose(float(schedule(WARMUP)), LR, rtol=1e-6)
  for step, want in checks:
    np.testing.assert_allclose(float(schedule(step)), want, rtol=1e-5,
                               atol=1e-9, err_msg=f"{decay} at {step}")
  values = [float(schedule(s)) for s in range(WARMUP, TOTAL + 1)]
  assert all(b <= a + 1e-12 for a, b in zip(values, values[1:]))


def test_unknown_optimizer_and_decay_are_config_errors():
  with pytest.raises(errors.ConfigError, match="adafactor"):
    optimizer_lib.make_optimizer(LR, TOTAL, name="sgdd")
  with pytest.raises(errors.ConfigError, match="cosine"):
    optimizer_lib.learning_rate_schedule(LR, TOTAL, decay="cosin")


def test_adafactor_trains_with_factored_state_sharded(tiny_model_cfg):
  """Adafactor's factored moments have other ranks than their parameters;
  the trainer's state shardings must still cover them, and it learns."""
  cfg = EncoderConfig(**{**tiny_model_cfg.__dict__, "dropout_rate": 0.0,
                         "d_model": 32, "d_ff": 128})
  model = api.build_model("classification", 3, "encoder", cfg)
  prepared = prepare_model(model, partitioning.create_partitioner())
  opt = optimizer_lib.make_optimizer(
      1e-2, 30, name="adafactor", decay="constant", weight_decay=0.0)
  state_shardings = state_shardings_of(prepared, opt)
  params = prepared.init_params(0)
  state = TrainState(jnp.zeros((), jnp.int32), params,
                     jax.jit(opt.init,
                             out_shardings=state_shardings.opt_state)(params))
  factored = [x for x in jax.tree.leaves(state.opt_state)
              if x.ndim == 1 and x.shape[0] in (32, 128)]
  assert factored, "expected factored (row/column) second moments"
  r = np.random.default_rng(0)
  batch = {"input_ids": r.integers(5, 200, (8, 12)).astype(np.int32),
           "attention_mask": np.ones((8, 12), np.int32),
           "label": r.integers(0, 3, 8).astype(np.int32)}
  step = jax.jit(make_train_step(model, opt, None),
                 in_shardings=(state_shardings, None),
                 out_shardings=(state_shardings, None))
  losses = []
  for _ in range(15):
    state, metrics = step(state, batch)
    losses.append(float(metrics["loss"]))
  assert losses[-1] < 0.5 * losses[0], losses
