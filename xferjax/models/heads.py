"""Task heads on top of an encoder's final hidden states `[batch, length, embed]`.

Each follows the Hugging Face / RoBERTa head of the same task, so converted
checkpoints and published recipes carry over:

  mlm              dense + GELU + LN, decoder tied to the token embedding
  classification   <cls> vector -> dense + tanh -> labels (XNLI, PAWS-X, ...)
  multiple_choice  pooler (dense + tanh) -> one score per choice
  span             per-token start/end logits (SQuAD, XQuAD, MLQA, TyDiQA)
  tagging          per-token labels (UDPOS, PAN-X, CCG)

The `embedding` head has no parameters: the model returns the hidden states
of every layer for `xferjax.evaluation.retrieval` to pool.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn

from xferjax.models import layers
from xferjax.models.projection import ProjectedHidden

Array = jax.Array


class MlmHead(nn.Module):
  """RoBERTa LM head; returns logits, or a `ProjectedHidden` when chunked."""

  cfg: Any

  @nn.compact
  def __call__(self, hidden: Array, encoder: nn.Module) -> Array:
    cfg = self.cfg
    h = layers.dense(cfg.d_model, ("embed", "mlp"), "dense",
                     cfg.compute_dtype)(hidden)
    h = nn.gelu(h, approximate=False)
    h = layers.layer_norm(cfg.layer_norm_eps, cfg.compute_dtype, "norm")(h)
    bias = self.param("bias", nn.with_logical_partitioning(
        nn.initializers.zeros_init(), ("vocab",)), (cfg.vocab_size,))
    projected = ProjectedHidden(
        hidden=h, kernel=encoder.embedding_matrix(), bias=bias,
        chunk_size=cfg.logits_chunk_size, vocab_major=True)
    if cfg.logits_chunk_size:
      return projected
    return projected.logits()


class ClassificationHead(nn.Module):
  """RoBERTa sequence classifier: first token -> dense+tanh -> labels."""

  cfg: Any
  num_labels: int

  @nn.compact
  def __call__(self, hidden: Array, deterministic: bool) -> Array:
    cfg = self.cfg
    x = hidden[:, 0]
    x = nn.Dropout(cfg.dropout_rate)(x, deterministic=deterministic)
    x = layers.dense(cfg.d_model, ("embed", "mlp"), "dense",
                     cfg.compute_dtype)(x)
    x = jnp.tanh(x)
    x = nn.Dropout(cfg.dropout_rate)(x, deterministic=deterministic)
    return layers.dense(self.num_labels, ("mlp", "classes"), "out_proj",
                        cfg.compute_dtype)(x)


class MultipleChoiceHead(nn.Module):
  """One score per choice: `[batch * choices, length, embed] -> [batch, C]`.

  As RoBERTa's multiple-choice model: the pooler (first token -> dense +
  tanh), dropout, one linear score. The encoder sees every (context, choice)
  pair as its own row; a choice whose row is all padding (fewer choices
  than C) can never be predicted.
  """

  cfg: Any
  num_choices: int

  @nn.compact
  def __call__(self, hidden: Array, attention_mask: Array,
               deterministic: bool) -> Array:
    cfg = self.cfg
    pooled = jnp.tanh(layers.dense(cfg.d_model, ("embed", "mlp"), "pooler",
                                   cfg.compute_dtype)(hidden[:, 0]))
    pooled = nn.Dropout(cfg.dropout_rate)(pooled, deterministic=deterministic)
    scores = layers.dense(1, ("mlp", "classes"), "classifier",
                          cfg.compute_dtype)(pooled)[:, 0]
    scores = scores.astype(jnp.float32).reshape(-1, self.num_choices)
    present = attention_mask.reshape(-1, self.num_choices,
                                     attention_mask.shape[-1]).any(-1)
    return jnp.where(present, scores, NEG_INF)


class SpanHead(nn.Module):
  """Start and end logits per token, `[batch, length, 2]`; padding masked."""

  cfg: Any

  @nn.compact
  def __call__(self, hidden: Array, attention_mask: Array) -> Array:
    cfg = self.cfg
    logits = layers.dense(2, ("embed", "classes"), "qa_outputs",
                          cfg.compute_dtype)(hidden).astype(jnp.float32)
    return jnp.where(attention_mask[..., None] > 0, logits, NEG_INF)


class TaggingHead(nn.Module):
  """Label logits per token, `[batch, length, num_labels]`."""

  cfg: Any
  num_labels: int

  @nn.compact
  def __call__(self, hidden: Array, deterministic: bool) -> Array:
    cfg = self.cfg
    x = nn.Dropout(cfg.dropout_rate)(hidden, deterministic=deterministic)
    logits = layers.dense(self.num_labels, ("embed", "classes"), "out_proj",
                          cfg.compute_dtype)(x)
    return nn.with_logical_constraint(logits, ("batch", "length", "classes"))


# Large but finite, so softmax of a fully masked row stays finite (no NaN).
NEG_INF = -1e9
