"""How to build a model for a head, feed it a batch and train it one step.

Both families share this interface, so a trainer, the planner and the tests
call `forward` / `make_loss_fn` and never branch on the family (the train
step, with accumulation and the non-finite guard, is
`xferjax.train.steps.make_train_step`):

  family           config          model                  heads
  encoder          EncoderConfig   EncoderModel           mlm, classification,
  (XLM-R style)                                           multiple_choice,
                                                          span, tagging,
                                                          embedding
  encoder_decoder  T5Config        EncoderDecoderModel    text_to_text
  (mT5 style)

The batch contract (int32 unless noted; B batch, L length, C choices):
encoder heads read `input_ids`, `attention_mask` ([B,C,L] for
multiple_choice); text_to_text reads seqio's `EncDecFeatureConverter`
features `encoder_input_tokens`, `decoder_input_tokens`; the targets each
loss reads are in `xferjax.models.losses.TARGET_FEATURES`.
"""

from __future__ import annotations

from typing import Any, Callable

import gin
import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from xferjax import errors
from xferjax.models import losses
from xferjax.models.encoder import HEAD_TYPES, EncoderConfig, EncoderModel
from xferjax.models.t5 import TEXT_TO_TEXT, EncoderDecoderModel, T5Config

FAMILIES = {"encoder": (EncoderConfig, EncoderModel),
            "encoder_decoder": (T5Config, EncoderDecoderModel)}


@gin.configurable
def model_family(family: str = "encoder") -> str:
  """The family the gin config selects (mT5 presets bind 'encoder_decoder')."""
  if family not in FAMILIES:
    raise errors.ConfigError(f"unknown model family {family!r}",
                             f"bind model_family.family to one of "
                             f"{sorted(FAMILIES)}")
  return family


def default_head(family: str) -> str:
  return TEXT_TO_TEXT if family == "encoder_decoder" else "classification"


def build_model(head: str | None = None, num_labels: int = 2,
                family: str | None = None, config: Any = None) -> nn.Module:
  """The model of `family` (default: from gin) with `config` (default: the
  gin-bound EncoderConfig/T5Config) and `head`."""
  family = family or model_family()
  config_cls, model_cls = FAMILIES[family]
  config = config if config is not None else config_cls()
  if not isinstance(config, config_cls):
    raise errors.ConfigError(
        f"family {family!r} takes a {config_cls.__name__}, got "
        f"{type(config).__name__}", "bind model_family.family to match the "
        "preset (models/mt5_*.gin are 'encoder_decoder')")
  head = head or default_head(family)
  if family == "encoder_decoder":
    return model_cls(config, head=head)
  if head not in HEAD_TYPES:
    raise errors.ConfigError(
        f"unknown head type {head!r} for the encoder family",
        f"use one of {HEAD_TYPES} (or {TEXT_TO_TEXT!r} with an mT5 preset)")
  return model_cls(config, head=head, num_labels=num_labels)


def check_vocab_size(config: Any, vocab_size: int, what: str = "the task's "
                     "vocabulary") -> None:
  """A vocabulary with more ids than the model's embedding would index past
  it (silently clipped by jnp.take): refuse it, naming both sizes."""
  if vocab_size > config.vocab_size:
    raise errors.ShapeError(
        f"{what} has {vocab_size} ids but the model's embedding has "
        f"vocab_size {config.vocab_size}",
        f"bind {type(config).__name__}.vocab_size >= {vocab_size} (a multiple "
        "of 128 shards best), or use the vocabulary the preset was made for")


def check_params_match(model: nn.Module, params: Any) -> None:
  """Parameters (e.g. restored or converted) must have the model's shapes;
  a mismatch names the first tensor that differs (vocab size, width...)."""
  expected = nn.meta.unbox(abstract_params(model))
  flat_expected = dict(jax.tree_util.tree_flatten_with_path(expected)[0])
  flat_given = dict(jax.tree_util.tree_flatten_with_path(
      nn.meta.unbox(params))[0])
  for path in sorted(set(flat_expected) | set(flat_given), key=str):
    name = jax.tree_util.keystr(path)
    want, got = flat_expected.get(path), flat_given.get(path)
    if want is None or got is None:
      raise errors.ShapeError(
          f"parameter {name} is {'missing' if got is None else 'unexpected'} "
          f"for this {type(model.cfg).__name__}",
          "load parameters made for the same model family, head and "
          "layer layout (scanned vs unrolled: see models.stacking)")
    if tuple(want.shape) != tuple(np.shape(got)):
      raise errors.ShapeError(
          f"parameter {name} has shape {tuple(np.shape(got))} but the model "
          f"expects {tuple(want.shape)}",
          "the parameters come from another size or vocabulary: use the "
          "preset they were trained with (e.g. a matching vocab_size)")


def model_inputs(head: str, batch: dict[str, Any]) -> tuple[Any, Any]:
  """The two positional inputs a model of `head` takes from a batch."""
  if head == TEXT_TO_TEXT:
    return batch["encoder_input_tokens"], batch["decoder_input_tokens"]
  return batch["input_ids"], batch["attention_mask"]


def forward(model: nn.Module, params: Any, batch: dict[str, Any], *,
            deterministic: bool = True, rngs: dict[str, Any] | None = None
            ) -> Any:
  """The head's outputs (logits, scores, hidden states or ProjectedHidden)."""
  return model.apply({"params": params}, *model_inputs(model.head, batch),
                     deterministic=deterministic, rngs=rngs)


def batch_shapes(model: nn.Module, batch_size: int, length: int,
                 target_length: int | None = None
                 ) -> dict[str, jax.ShapeDtypeStruct]:
  """Shapes and dtypes of a full training batch for `model`'s head."""
  b, l = batch_size, length
  i32 = lambda *s: jax.ShapeDtypeStruct(s, jnp.int32)
  f32 = lambda *s: jax.ShapeDtypeStruct(s, jnp.float32)
  head = model.head
  if head == TEXT_TO_TEXT:
    t = target_length or length
    return {"encoder_input_tokens": i32(b, l), "decoder_input_tokens": i32(b, t),
            "decoder_target_tokens": i32(b, t),
            "decoder_loss_weights": f32(b, t)}
  shapes = {"input_ids": i32(b, l), "attention_mask": i32(b, l)}
  if head == "multiple_choice":
    c = model.num_labels
    shapes = {"input_ids": i32(b, c, l), "attention_mask": i32(b, c, l)}
  targets = {
      "mlm": {"targets": i32(b, l), "loss_weights": f32(b, l)},
      "classification": {"label": i32(b)},
      "multiple_choice": {"label": i32(b)},
      "span": {"start_position": i32(b), "end_position": i32(b)},
      "tagging": {"labels": i32(b, l)},
      "embedding": {"match": i32(b)},
  }[head]
  return {**shapes, **targets}


def init_boxed(model: nn.Module, rng: jax.Array) -> Any:
  """Parameters with their logical-axis boxes (call under jax.eval_shape to
  get shapes without allocating anything)."""
  batch = {k: jnp.ones(s.shape, s.dtype)
           for k, s in batch_shapes(model, 1, 8).items()}
  return model.init({"params": rng, "dropout": rng},
                    *model_inputs(model.head, batch))["params"]


def abstract_params(model: nn.Module) -> Any:
  """Boxed ShapeDtypeStructs of every parameter; nothing is allocated."""
  return jax.eval_shape(lambda r: init_boxed(model, r), jax.random.PRNGKey(0))


def count_params(model: nn.Module) -> int:
  return int(sum(np.prod(x.shape) for x in
                 jax.tree.leaves(nn.meta.unbox(abstract_params(model)))))


def make_loss_fn(model: nn.Module, **loss_options) -> Callable:
  """loss_fn(params, batch, dropout_rng | None) -> (loss, metrics).

  A `None` rng means deterministic (no dropout)."""

  def loss_fn(params, batch, dropout_rng=None):
    outputs = forward(model, params, batch,
                      deterministic=dropout_rng is None,
                      rngs=None if dropout_rng is None else
                      {"dropout": dropout_rng})
    return losses.loss_and_metrics(model.head, outputs, batch, **loss_options)

  return loss_fn
