"""One loss per head: `loss_and_metrics(head, outputs, batch) -> (loss, metrics)`.

Conventions (as the trainer's metrics expect): `loss` is the mean over the
targets of the batch; `accuracy` is the fraction of targets predicted right
and `num_targets` how many targets there were, so metrics of many steps are
averaged by weighting with `num_targets`. Inputs follow the batch contract
(docs in `xferjax.models.api`):

  mlm              targets [B,L], loss_weights [B,L]; per masked token
  classification   label [B]
  multiple_choice  label [B] (index of the right choice)
  span             start_position [B], end_position [B]; mean of start and
                   end cross-entropy; accuracy = both ends right
  tagging          labels [B,L], -1 = ignored (non-first sub-tokens, specials)
  embedding        match [B]: index of the row in the same batch that is this
                   row's translation (-1: none); in-batch softmax over cosine
                   similarities of pooled sentence embeddings (the translation
                   ranking loss); accuracy = the translation ranks first
  text_to_text     decoder_target_tokens [B,T], decoder_loss_weights [B,T]

Token-level heads accept logits or a `ProjectedHidden`; with a chunked one
(`chunk_size` > 0) the weighted loss sums come from
`xferjax.models.fused_cross_entropy`: logits `chunk_size` positions at a
time, only where a target is weighted, the backward pass fused in, so a
250k-vocabulary model never holds `[B, L, V]` logits.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from xferjax import errors
from xferjax.evaluation import retrieval
from xferjax.models import fused_cross_entropy
from xferjax.models.projection import ProjectedHidden

Array = jax.Array
Batch = dict[str, Array]
Metrics = dict[str, Array]

# Features each head's loss reads from the batch.
TARGET_FEATURES = {
    "mlm": ("targets", "loss_weights"),
    "classification": ("label",),
    "multiple_choice": ("label",),
    "span": ("start_position", "end_position"),
    "tagging": ("labels",),
    "embedding": ("match",),
    "text_to_text": ("decoder_target_tokens", "decoder_loss_weights"),
}


def loss_and_metrics(head: str, outputs: Any, batch: Batch, *,
                     embedding_layer: int = -1,
                     embedding_pooling: str = "mean",
                     embedding_temperature: float = 0.05
                     ) -> tuple[Array, Metrics]:
  """Mean loss plus accuracy and the number of targets it averages over."""
  if head not in TARGET_FEATURES:
    raise errors.ConfigError(f"no loss for head {head!r}",
                             f"use one of {sorted(TARGET_FEATURES)}")
  missing = [k for k in TARGET_FEATURES[head] if k not in batch]
  if missing:
    raise errors.ShapeError(
        f"head {head!r} needs batch features {missing} (the batch has "
        f"{sorted(batch)})", "use the feature converter of this head type")
  if head == "mlm":
    return _weighted_tokens(outputs, batch["targets"], batch["loss_weights"])
  if head == "text_to_text":
    return _weighted_tokens(outputs, batch["decoder_target_tokens"],
                            batch["decoder_loss_weights"])
  if head in ("classification", "multiple_choice"):
    losses, correct = _cross_entropy(outputs, batch["label"])
    return _weighted(losses, correct, jnp.ones(losses.shape, jnp.float32))
  if head == "tagging":
    labels = batch["labels"]
    losses, correct = _cross_entropy(outputs, jnp.maximum(labels, 0))
    return _weighted(losses, correct, (labels >= 0).astype(jnp.float32))
  if head == "span":
    return _span(outputs, batch)
  return _translation_ranking(outputs, batch, embedding_layer,
                              embedding_pooling, embedding_temperature)


def _cross_entropy(logits: Array, labels: Array) -> tuple[Array, Array]:
  logits = logits.astype(jnp.float32)
  losses = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
  return losses, jnp.argmax(logits, -1) == labels


def _weighted(losses: Array, correct: Array,
              weights: Array) -> tuple[Array, Metrics]:
  weights = weights.astype(jnp.float32)
  return _metrics((losses * weights).sum(), (correct * weights).sum(),
                  weights.sum())


def _metrics(loss_sum: Array, correct_sum: Array,
             total: Array) -> tuple[Array, Metrics]:
  denom = jnp.maximum(total, 1.0)
  loss = loss_sum / denom
  return loss, {"loss": loss, "accuracy": correct_sum / denom,
                "num_targets": total}


def _weighted_tokens(outputs: Any, targets: Array,
                     weights: Array) -> tuple[Array, Metrics]:
  """Per-token targets: fused and chunked for a chunked `ProjectedHidden`."""
  if isinstance(outputs, ProjectedHidden) and outputs.chunk_size:
    weights = weights.astype(jnp.float32)
    loss_sum, correct_sum = fused_cross_entropy.weighted_sums(
        outputs, targets, weights)
    return _metrics(loss_sum, correct_sum, weights.sum())
  losses, correct = token_cross_entropy(outputs, targets)
  return _weighted(losses, correct, weights)


def token_cross_entropy(outputs: Any, targets: Array) -> tuple[Array, Array]:
  """Per-token cross-entropy and correctness `[B, L]` from logits or a
  `ProjectedHidden` (whose full logits this computes: the plain reference
  of the fused path)."""
  if isinstance(outputs, ProjectedHidden):
    outputs = outputs.logits()
  return _cross_entropy(outputs, targets)


def _span(logits: Array, batch: Batch) -> tuple[Array, Metrics]:
  start_loss, start_ok = _cross_entropy(logits[..., 0],
                                        batch["start_position"])
  end_loss, end_ok = _cross_entropy(logits[..., 1], batch["end_position"])
  loss, metrics = _weighted((start_loss + end_loss) / 2, start_ok & end_ok,
                            jnp.ones(start_loss.shape, jnp.float32))
  denom = jnp.maximum(metrics["num_targets"], 1.0)
  metrics["start_accuracy"] = start_ok.sum() / denom
  metrics["end_accuracy"] = end_ok.sum() / denom
  return loss, metrics


def pooled_embeddings(hidden_states: Array, attention_mask: Array,
                      layer: int = -1, pooling: str = "mean") -> Array:
  """`[B, d]` L2-normalised sentence embeddings of one layer (as retrieval
  evaluation pools them)."""
  layer = layer % hidden_states.shape[0]
  return retrieval.pool_hidden_states(hidden_states, attention_mask,
                                      (layer,), pooling)[0]


def _translation_ranking(hidden_states: Array, batch: Batch, layer: int,
                         pooling: str, temperature: float
                         ) -> tuple[Array, Metrics]:
  emb = pooled_embeddings(hidden_states, batch["attention_mask"], layer,
                          pooling)
  sims = jnp.einsum("id,jd->ij", emb, emb,
                    precision=jax.lax.Precision.HIGHEST) / temperature
  n = sims.shape[0]
  sims = jnp.where(jnp.eye(n, dtype=bool), -1e9, sims)  # never oneself
  match = batch["match"]
  losses, correct = _cross_entropy(sims, jnp.maximum(match, 0))
  return _weighted(losses, correct, (match >= 0).astype(jnp.float32))
