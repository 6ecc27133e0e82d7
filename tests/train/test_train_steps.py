"""The jitted train step: exact gradient accumulation for every kind of
target count, dropout semantics, mixed precision, and the heads it refuses
to accumulate."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import linen as nn

from xferjax import errors
from xferjax.models import api
from xferjax.models.encoder import EncoderConfig
from xferjax.models.t5 import T5Config
from xferjax.train.steps import TrainState, make_train_step
from train_helpers import clean_gin  # noqa: F401  (autouse fixture)

ENC = dict(vocab_size=64, d_model=16, num_layers=1, num_heads=2, d_ff=32,
           max_len=16, dropout_rate=0.0)
LR = 0.1


def _batch(head, rng, b=8, length=12):
  """Rows of different lengths; MLM/text-to-text rows hold different numbers
  of targets, so micro-batches weigh differently."""
  r = np.random.default_rng(rng)
  lengths = r.integers(3, length + 1, size=b)
  mask = (np.arange(length)[None] < lengths[:, None]).astype(np.int32)
  ids = r.integers(5, 64, size=(b, length)).astype(np.int32) * mask
  if head == "classification":
    return {"input_ids": ids, "attention_mask": mask,
            "label": r.integers(0, 3, size=b).astype(np.int32)}
  if head == "mlm":
    weights = (r.random((b, length)) < 0.3) * mask
    weights[0, 0] = 1  # every batch has targets
    return {"input_ids": ids, "attention_mask": mask,
            "targets": r.integers(5, 64, size=(b, length)).astype(np.int32),
            "loss_weights": weights.astype(np.float32)}
  t = 6
  tlen = r.integers(1, t + 1, size=b)
  tmask = (np.arange(t)[None] < tlen[:, None])
  targets = r.integers(2, 64, size=(b, t)).astype(np.int32) * tmask
  return {"encoder_input_tokens": ids,
          "decoder_input_tokens": np.pad(targets[:, :-1], ((0, 0), (1, 0))),
          "decoder_target_tokens": targets,
          "decoder_loss_weights": tmask.astype(np.float32)}


def _model(head, **overrides):
  if head == "text_to_text":
    cfg = T5Config(vocab_size=64, d_model=16, num_heads=2, head_dim=8,
                   d_ff=32, num_encoder_layers=1, num_decoder_layers=1,
                   dropout_rate=0.0, **overrides)
    return api.build_model(head, family="encoder_decoder", config=cfg)
  return api.build_model(head, num_labels=3, family="encoder",
                         config=EncoderConfig(**{**ENC, **overrides}))


def _params(model):
  """Random parameters of the model's shapes, made with numpy: the
  comparisons need some point in parameter space, not the model's own
  initialiser (whose compile would dominate this file's time)."""
  shapes = nn.meta.unbox(api.abstract_params(model))
  r = np.random.default_rng(0)
  return jax.tree.map(
      lambda s: jnp.asarray(r.normal(0, 0.2, s.shape), s.dtype), shapes)


def _state(model, optimizer, params=None):
  params = _params(model) if params is None else params
  return TrainState(jnp.zeros((), jnp.int32), params, optimizer.init(params))


def _one_step(model, k, batch, base_rng=None, params=None):
  optimizer = optax.sgd(LR)
  step = jax.jit(make_train_step(model, optimizer, base_rng, k))
  return step(_state(model, optimizer, params), batch)


def _assert_close(a, b, **tol):
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), **tol)


@pytest.mark.parametrize("head", ["classification", "mlm", "text_to_text"])
def test_accumulating_k_micro_batches_equals_one_big_batch(head):
  model, batch = _model(head), _batch(head, 0)
  params = _params(model)
  big, big_metrics = _one_step(model, 1, batch, params=params)
  acc, acc_metrics = _one_step(model, 4, batch, params=params)
  # SGD: the update is the gradient itself, so this compares gradients.
  _assert_close(acc.params, big.params, rtol=1e-5, atol=1e-7)
  for name in ("loss", "accuracy", "num_targets", "grad_norm"):
    np.testing.assert_allclose(acc_metrics[name], big_metrics[name],
                               rtol=1e-5, err_msg=name)
  assert float(acc_metrics["nonfinite"]) == 0.0
  if head != "classification":
    # The micro-batches hold different numbers of targets: the mean of
    # their mean losses is not the batch's loss, so the weighting matters.
    from xferjax.train.steps import split_micro_batches
    micro = split_micro_batches(batch, 4)
    loss_fn = jax.jit(api.make_loss_fn(model))
    naive = np.mean([float(loss_fn(params, jax.tree.map(lambda x: x[j],
                                                        micro))[0])
                     for j in range(4)])
    assert abs(naive - float(big_metrics["loss"])) > 1e-4


def test_dropout_with_accumulation_is_deterministic_not_bit_equal():
  """Documented semantics: micro-batch j draws dropout from
  fold_in(step key, j), so an accumulated step repeats exactly but masks
  differ from the unaccumulated step's."""
  model = _model("classification", dropout_rate=0.3)
  batch, rng = _batch("classification", 1), jax.random.PRNGKey(7)
  params = _params(model)
  step4 = jax.jit(make_train_step(model, optax.sgd(LR), rng, 4))
  a, ma = step4(_state(model, optax.sgd(LR), params), batch)
  b, mb = step4(_state(model, optax.sgd(LR), params), batch)
  c, mc = _one_step(model, 1, batch, rng, params)
  for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params)):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
  assert float(ma["loss"]) == float(mb["loss"])
  assert float(ma["loss"]) != float(mc["loss"])


def test_embedding_head_refuses_accumulation():
  model = api.build_model("embedding", family="encoder",
                          config=EncoderConfig(**ENC))
  with pytest.raises(errors.ConfigError, match="grad_accum_steps = 1"):
    make_train_step(model, optax.sgd(LR), None, grad_accum_steps=2)


def test_bf16_computes_in_bf16_and_keeps_fp32_master_weights():
  model = _model("classification", dtype="bfloat16")
  batch = _batch("classification", 2)
  optimizer = optax.adamw(1e-3)
  state = _state(model, optimizer)
  step = make_train_step(model, optimizer, None)
  jaxpr = str(jax.make_jaxpr(step)(state, batch))
  assert "bf16" in jaxpr and "dot_general" in jaxpr
  new, metrics = jax.jit(step)(state, batch)
  for leaf in jax.tree.leaves((new.params, new.opt_state)):
    if jnp.issubdtype(leaf.dtype, jnp.floating):
      assert leaf.dtype == jnp.float32
  assert metrics["loss"].dtype == jnp.float32


def test_nonfinite_step_keeps_params_and_optimizer_state():
  model, batch = _model("classification"), _batch("classification", 3)
  optimizer = optax.adamw(1e-3)
  state = _state(model, optimizer)
  bad = jax.tree.map(lambda x: x.at[...].set(jnp.nan) if x.ndim == 1 else x,
                     state.params)
  new, metrics = jax.jit(make_train_step(model, optimizer, None))(
      state.replace(params=bad), batch)
  assert float(metrics["nonfinite"]) == 1.0
  assert int(new.step) == 1
  for x, y in zip(jax.tree.leaves((new.params, new.opt_state)),
                  jax.tree.leaves((bad, state.opt_state))):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
