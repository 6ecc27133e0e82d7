"""Zero-shot sentence retrieval: BUCC 2018 mining and Tatoeba search.

Sentence embeddings come from one encoder layer, pooled over tokens: the mean
over non-padding tokens, or the first token. The default is what jiant used
for XLM-R Large, mean pooling of layer 14 (`hidden_states[14]`, where index 0 is
the embedding output and index L the output of layer L). Embeddings are
L2-normalised, so a dot product is the cosine similarity.

BUCC follows XTREME's (LASER's) recipe: k=4 nearest neighbours both ways, the
ratio margin cos(x, y) / ((mean_k cos(x, .) + mean_k cos(., y)) / 2), the best
candidate of every source and every target sentence, greedily made 1:1 by
descending score ("max" retrieval); the score threshold that maximises F1 on
the dev ("sample") split is then applied to the test candidates. Tatoeba
predicts, for every English sentence, the index of the most similar sentence
in the other language (XTREME's direction).

The similarity matrix is never built whole: `mutual_topk` walks it in blocks of
`block_size` x `block_size`, keeping a running top-k for rows and for columns,
so memory is O((n + m) * d + block_size^2) and both directions cost one
matrix product. Blocks run on JAX devices (several devices take query blocks
round-robin), with float32 matmuls at full precision.

Any encoder plugs in through a `HiddenStatesFn`, `(input_ids, attention_mask)
-> [L+1, B, T, d]`: `model_hidden_states_fn(model, params)` makes one for
either model family (XLM-R `EncoderModel.hidden_states`, mT5
`EncoderDecoderModel.encoder_hidden_states`). 100k x 100k BUCC mining of
768-d embeddings fits in 1.5 GiB (measured: see `mine_candidates`).

Differences from XTREME's scripts, by design: sentences are identified by the
ids the caller passes (`unique_sentences` reproduces XTREME's handling of
repeated sentences: mined once, never paired); if the best dev F1 is reached
at the last candidate, the threshold is that candidate's score (XTREME's script
indexes past the end there); exact ties in similarity or score are broken by
the lower index (faiss and NumPy's quicksort leave them unspecified).
"""

from __future__ import annotations

import collections
import dataclasses
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from xferjax import errors
from xferjax.evaluation import metrics

DEFAULT_LAYER = 14
DEFAULT_POOLING = "mean"
POOLINGS = ("mean", "first")
MARGIN_NEIGHBOURS = 4
DEFAULT_BLOCK_SIZE = 8192

# hidden_states_fn(input_ids [B, T], attention_mask [B, T], 1 = real token)
#   -> hidden states of every layer [L + 1, B, T, d] (index 0: embeddings).
HiddenStatesFn = Callable[[Any, Any], Any]

# ---------------------------------------------------------------------------
# Pooling and embedding.
# ---------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames=("layers", "pooling"))
def pool_hidden_states(hidden_states: jax.Array, attention_mask: jax.Array,
                       layers: tuple[int, ...], pooling: str) -> jax.Array:
  """[len(layers), batch, d] L2-normalised sentence embeddings.

  "mean" averages the token vectors where attention_mask is 1 (as XTREME's
  mean pooling does); "first" takes token 0 (the CLS/<s> vector).
  """
  selected = hidden_states[jnp.asarray(layers)].astype(jnp.float32)
  if pooling == "mean":
    mask = attention_mask.astype(jnp.float32)
    summed = jnp.einsum("lbtd,bt->lbd", selected, mask,
                        precision=jax.lax.Precision.HIGHEST)
    pooled = summed / jnp.maximum(mask.sum(axis=1), 1.0)[None, :, None]
  else:
    pooled = selected[:, :, 0, :]
  norms = jnp.linalg.norm(pooled, axis=-1, keepdims=True)
  return pooled / jnp.maximum(norms, 1e-12)


def _check_pooling(pooling: str) -> None:
  if pooling not in POOLINGS:
    raise errors.ConfigError(f"unknown pooling {pooling!r}",
                             f"use one of {', '.join(POOLINGS)}")


@dataclasses.dataclass(frozen=True)
class SentenceEmbeddings:
  """L2-normalised sentence vectors of one corpus, per layer, and how they
  were pooled (recorded in results)."""
  pooling: str
  by_layer: Mapping[int, np.ndarray]

  @property
  def layers(self) -> list[int]:
    return sorted(self.by_layer)

  def __len__(self) -> int:
    return len(next(iter(self.by_layer.values())))

  def take(self, rows: Sequence[int]) -> "SentenceEmbeddings":
    """The embeddings of `rows` only (e.g. `unique_sentences(...).rows`)."""
    rows = np.asarray(rows, dtype=np.int64)
    return SentenceEmbeddings(self.pooling, {l: e[rows] for l, e in
                                             self.by_layer.items()})


def model_hidden_states_fn(model: Any, params: Any) -> HiddenStatesFn:
  """A jitted `HiddenStatesFn` for a model of either family.

  XLM-R style (`EncoderModel`): `hidden_states(input_ids, attention_mask)`.
  mT5 style (`EncoderDecoderModel`): `encoder_hidden_states(tokens)`, whose
  attention comes from the tokens (pad id 0) and ignores the mask, which
  then only decides the pooling. `params` is the model's `params` tree; it
  is an argument of the jitted function, not a baked-in constant.
  """
  if hasattr(model, "encoder_hidden_states"):
    def states(p, ids, mask):
      del mask
      return model.apply({"params": p}, ids, method="encoder_hidden_states")
  elif hasattr(model, "hidden_states"):
    def states(p, ids, mask):
      return model.apply({"params": p}, ids, mask, method="hidden_states")
  else:
    raise errors.ConfigError(
        f"{type(model).__name__} has neither hidden_states(ids, mask) nor "
        "encoder_hidden_states(tokens)",
        "pass an EncoderModel / EncoderDecoderModel, or write a "
        "HiddenStatesFn (ids, mask) -> [L+1, B, T, d] yourself")
  jitted = jax.jit(states)
  return lambda ids, mask: jitted(params, ids, mask)


def _ids_and_mask(batch: Any) -> tuple[Any, Any]:
  """(input_ids, attention_mask) from a pair or a feature dict (XLM-R
  `input_ids` + `attention_mask`, or mT5 `encoder_input_tokens`, pad 0)."""
  if isinstance(batch, Mapping):
    if "input_ids" in batch and "attention_mask" in batch:
      return batch["input_ids"], batch["attention_mask"]
    if "encoder_input_tokens" in batch:
      tokens = batch["encoder_input_tokens"]
      return tokens, (np.asarray(tokens) > 0).astype(np.int32)
    raise errors.DataError(
        f"batch has features {sorted(batch)}; cannot find the token ids",
        "pass (input_ids, attention_mask) pairs, or dicts with input_ids + "
        "attention_mask (XLM-R) or encoder_input_tokens (mT5)")
  if isinstance(batch, (tuple, list)) and len(batch) == 2:
    return batch[0], batch[1]
  raise errors.DataError(f"cannot read a batch of type {type(batch).__name__}",
                         "pass (input_ids, attention_mask) pairs")


def embed_sentences(hidden_states_fn: HiddenStatesFn, batches: Iterable[Any],
                    layers: Sequence[int] = (DEFAULT_LAYER,),
                    pooling: str = DEFAULT_POOLING) -> SentenceEmbeddings:
  """Runs the encoder over `batches` and pools the requested layers.

  Each batch is `(input_ids, attention_mask)` or a feature dict (see
  `_ids_and_mask`). Rows whose attention mask is all zero are batch padding
  and are dropped, so the result has one vector per real sentence, in batch
  order. Mean pooling covers every token the mask marks, special tokens
  included (XTREME's and jiant's default).
  """
  _check_pooling(pooling)
  layers = tuple(int(l) for l in layers)
  chunks: list[np.ndarray] = []
  for batch in batches:
    input_ids, attention_mask = _ids_and_mask(batch)
    hidden_states = hidden_states_fn(input_ids, attention_mask)
    if hidden_states.ndim != 4 or tuple(attention_mask.shape) != tuple(
        hidden_states.shape[1:3]):
      raise errors.ShapeError(
          f"hidden_states_fn returned {tuple(hidden_states.shape)} for "
          f"inputs {tuple(attention_mask.shape)}",
          "return hidden states [layers + 1, batch, length, d] for ids and "
          "mask [batch, length]")
    bad = [l for l in layers if not 0 <= l < hidden_states.shape[0]]
    if bad:
      raise errors.ShapeError(
          f"layers {bad} requested but the encoder has hidden states 0.."
          f"{hidden_states.shape[0] - 1}", "pick layers in that range")
    pooled = np.asarray(
        pool_hidden_states(hidden_states, attention_mask, layers, pooling))
    real = np.asarray(attention_mask).sum(axis=1) > 0
    chunks.append(pooled[:, real])
  if not chunks:
    raise errors.DataError("no batches to embed", "pass at least one batch")
  stacked = np.concatenate(chunks, axis=1)
  return SentenceEmbeddings(pooling, {l: stacked[i] for i, l in
                                      enumerate(layers)})


def l2_normalize(x: np.ndarray) -> np.ndarray:
  """Float32 unit rows; a copy only when they are not unit already."""
  x = np.asarray(x, dtype=np.float32)
  norms = np.linalg.norm(x, axis=1, keepdims=True)
  if np.allclose(norms, 1.0, atol=1e-4):
    return x
  return x / np.maximum(norms, 1e-12)


# ---------------------------------------------------------------------------
# Blocked k-nearest neighbours by cosine, both directions at once.
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Neighbours:
  """similarities [n, k] in descending order and the matching indices."""
  similarities: np.ndarray
  indices: np.ndarray


@functools.partial(jax.jit, static_argnames=("k_rows", "k_cols"))
def _block_topk(x_block, y_block, x_valid, y_valid, k_rows, k_cols):
  sims = jnp.matmul(x_block, y_block.T, precision=jax.lax.Precision.HIGHEST)
  floor = jnp.float32(-jnp.inf)
  sims = jnp.where(x_valid[:, None] & y_valid[None, :], sims, floor)
  row_sims, row_idx = jax.lax.top_k(sims, k_rows)
  if k_cols == 0:
    return row_sims, row_idx, None, None
  col_sims, col_idx = jax.lax.top_k(sims.T, k_cols)
  return row_sims, row_idx, col_sims, col_idx


def _merge(best_sims, best_idx, new_sims, new_idx, k):
  """Top-k of the union; on equal similarity the lower index wins."""
  sims = np.concatenate([best_sims, new_sims], axis=1)
  idx = np.concatenate([best_idx, new_idx], axis=1)
  order = np.lexsort((idx, -sims), axis=1)[:, :k]
  return (np.take_along_axis(sims, order, axis=1),
          np.take_along_axis(idx, order, axis=1))


def _padded_blocks(x: np.ndarray, size: int):
  """(start, block padded to `size` rows, validity mask) for each block."""
  for start in range(0, len(x), size):
    block = x[start:start + size]
    valid = np.ones(size, dtype=bool)
    if len(block) < size:
      valid[len(block):] = False
      block = np.concatenate(
          [block, np.zeros((size - len(block), x.shape[1]), x.dtype)])
    yield start, block, valid


def mutual_topk(x: np.ndarray, y: np.ndarray, k: int, *,
                block_size: int = DEFAULT_BLOCK_SIZE,
                both_directions: bool = True,
                devices: Sequence[jax.Device] | None = None
                ) -> tuple[Neighbours, Neighbours | None]:
  """k nearest y of every x and (optionally) k nearest x of every y, blocked.

  Inputs are L2-normalised here (unless they already are), so similarities are
  cosines. k is capped at the other side's size, as in XTREME. Query blocks
  are spread round-robin over `devices` (default: all local devices).
  """
  x, y = l2_normalize(x), l2_normalize(y)
  if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
    raise errors.ShapeError(f"cannot compare embeddings {x.shape} and "
                            f"{y.shape}", "pass [n, d] and [m, d] arrays")
  if len(x) == 0 or len(y) == 0:
    raise errors.DataError("cannot search an empty corpus",
                           "pass at least one sentence on each side")
  devices = list(devices or jax.local_devices())
  rows_k, cols_k = min(k, len(y)), min(k, len(x))
  x_size, y_size = min(block_size, len(x)), min(block_size, len(y))
  block_rows_k, block_cols_k = min(rows_k, y_size), min(cols_k, x_size)
  if not both_directions:
    block_cols_k = 0

  x_sims = np.full((len(x), rows_k), -np.inf, np.float32)
  x_idx = np.zeros((len(x), rows_k), np.int64)
  y_sims = np.full((len(y), cols_k), -np.inf, np.float32)
  y_idx = np.zeros((len(y), cols_k), np.int64)
  y_blocks = list(_padded_blocks(y, y_size))
  x_blocks = list(_padded_blocks(x, x_size))

  for group_start in range(0, len(x_blocks), len(devices)):
    group = x_blocks[group_start:group_start + len(devices)]
    placed = [(start, jax.device_put(block, device),
               jax.device_put(valid, device), device)
              for (start, block, valid), device in zip(group, devices)]
    for y_start, y_block, y_valid in y_blocks:
      # Dispatch to every device first (asynchronous), then collect.
      pending = [
          (start, _block_topk(block, jax.device_put(y_block, device), valid,
                              jax.device_put(y_valid, device),
                              block_rows_k, block_cols_k))
          for start, block, valid, device in placed]
      for x_start, (row_sims, row_idx, col_sims, col_idx) in pending:
        rows = slice(x_start, min(x_start + x_size, len(x)))
        n_rows = rows.stop - rows.start
        x_sims[rows], x_idx[rows] = _merge(
            x_sims[rows], x_idx[rows], np.asarray(row_sims)[:n_rows],
            np.asarray(row_idx)[:n_rows] + y_start, rows_k)
        if block_cols_k:
          cols = slice(y_start, min(y_start + y_size, len(y)))
          n_cols = cols.stop - cols.start
          y_sims[cols], y_idx[cols] = _merge(
              y_sims[cols], y_idx[cols], np.asarray(col_sims)[:n_cols],
              np.asarray(col_idx)[:n_cols] + x_start, cols_k)
  forward = Neighbours(x_sims, x_idx)
  backward = Neighbours(y_sims, y_idx) if both_directions else None
  return forward, backward


def mutual_topk_dense(x: np.ndarray, y: np.ndarray, k: int
                      ) -> tuple[Neighbours, Neighbours]:
  """Reference: the same result from the full similarity matrix (small n)."""
  x, y = l2_normalize(x), l2_normalize(y)
  sims = x @ y.T

  def topk(matrix, k):
    order = np.argsort(-matrix, axis=1, kind="stable")[:, :k]
    return Neighbours(np.take_along_axis(matrix, order, axis=1), order)

  return topk(sims, min(k, len(y))), topk(sims.T, min(k, len(x)))


# ---------------------------------------------------------------------------
# BUCC: margin mining, threshold, pairs.
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Candidate:
  source: int
  target: int
  score: float


def margin_candidates(forward: Neighbours, backward: Neighbours
                      ) -> list[Candidate]:
  """1:1 candidate pairs by ratio margin, best first (XTREME "max" mining).

  Every source proposes its best-margin target among its k neighbours and
  every target its best source; proposals are taken by descending score while
  neither side is used yet; only scores > 0 are kept.
  """
  forward_mean = forward.similarities.mean(axis=1)
  backward_mean = backward.similarities.mean(axis=1)
  forward_scores = forward.similarities / (
      (forward_mean[:, None] + backward_mean[forward.indices]) / 2)
  backward_scores = backward.similarities / (
      (backward_mean[:, None] + forward_mean[backward.indices]) / 2)
  n_src, n_tgt = len(forward_scores), len(backward_scores)
  forward_pick = forward_scores.argmax(axis=1)
  backward_pick = backward_scores.argmax(axis=1)
  sources = np.concatenate([np.arange(n_src),
                            backward.indices[np.arange(n_tgt), backward_pick]])
  targets = np.concatenate([forward.indices[np.arange(n_src), forward_pick],
                            np.arange(n_tgt)])
  scores = np.concatenate([forward_scores[np.arange(n_src), forward_pick],
                           backward_scores[np.arange(n_tgt), backward_pick]])
  used_src, used_tgt = np.zeros(n_src, bool), np.zeros(n_tgt, bool)
  candidates = []
  for i in np.argsort(-scores, kind="stable"):
    src, tgt = sources[i], targets[i]
    if used_src[src] or used_tgt[tgt]:
      continue
    used_src[src] = used_tgt[tgt] = True
    if scores[i] > 0:
      candidates.append(Candidate(int(src), int(tgt), float(scores[i])))
  return candidates


def mine_candidates(source: np.ndarray, target: np.ndarray, *,
                    k: int = MARGIN_NEIGHBOURS,
                    block_size: int = DEFAULT_BLOCK_SIZE) -> list[Candidate]:
  """Blocked k-NN both ways, then margin candidates.

  Memory, measured with `benchmarks/bucc_mining_memory.py` (2026-12-02, a
  2-core AMD EPYC VM with 23.5 GiB shared with other work, jax 0.10.2 CPU,
  block_size 8192): mining 100,000 x 100,000 768-d float32 embeddings,
  then the ids, threshold and pairs, peaked at 1.49 GiB resident memory for
  the whole process (the inputs are 0.57 GiB of it; the full similarity
  matrix would be 37 GiB) and took 212 s wall time at 1.7 cores on average.
  Details: benchmarks/RESULTS_retrieval.md.
  """
  forward, backward = mutual_topk(source, target, k, block_size=block_size)
  return margin_candidates(forward, backward)


def candidate_scores(candidates: Iterable[Candidate],
                     source_ids: Sequence[str | None],
                     target_ids: Sequence[str | None]
                     ) -> dict[tuple[str, str], float]:
  """{(source id, target id): best score} (duplicates keep the maximum).

  Candidates with a None id on either side are dropped (XTREME never pairs
  a sentence whose text is repeated; see `unique_sentences`).
  """
  scores: dict[tuple[str, str], float] = {}
  for c in candidates:
    source_id, target_id = source_ids[c.source], target_ids[c.target]
    if source_id is None or target_id is None:
      continue
    key = (str(source_id), str(target_id))
    scores[key] = max(c.score, scores.get(key, c.score))
  return scores


def tune_threshold(scores: Mapping[tuple[str, str], float],
                   gold: Iterable[tuple[str, str]]) -> float:
  """The score threshold with the best F1 against `gold` (XTREME's rule).

  Candidates are taken best first; at each new best F1 the threshold moves to
  the midpoint between this score and the next. 0 when nothing is correct.
  """
  gold = set(gold)
  ranked = sorted(scores.items(), key=lambda item: -item[1])
  threshold, best_f1, correct = 0.0, 0.0, 0
  for extracted, (pair, score) in enumerate(ranked, start=1):
    correct += pair in gold
    if not correct:
      continue
    precision, recall = correct / extracted, correct / len(gold)
    f1 = 2 * precision * recall / (precision + recall)
    if f1 > best_f1:
      best_f1 = f1
      following = ranked[extracted][1] if extracted < len(ranked) else score
      threshold = (score + following) / 2
  return threshold


def extract_pairs(scores: Mapping[tuple[str, str], float],
                  threshold: float) -> list[tuple[str, str]]:
  """Pairs scoring at least `threshold`, best first: the BUCC submission."""
  kept = [(pair, s) for pair, s in scores.items() if s >= threshold]
  return [pair for pair, _ in sorted(kept, key=lambda item: -item[1])]


@dataclasses.dataclass(frozen=True)
class UniqueSentences:
  """`rows`: the first row of every distinct text, the ones to mine with;
  `ids`: for each of those rows its id, or None when its stripped text
  occurs more than once (such a sentence is mined, but never paired)."""
  rows: list[int]
  ids: list[str | None]


def unique_sentences(ids: Sequence[str], texts: Sequence[str]
                     ) -> UniqueSentences:
  """XTREME's handling of repeated BUCC sentences, for one side.

  XTREME mines over the distinct texts (one embedding each) and maps mined
  texts back to ids through a text -> id table without the texts that occur
  twice, so a repeated sentence takes part in the neighbourhoods but never
  yields a pair. Use: `side.take(u.rows)` with ids `u.ids` in `BuccCorpus`.
  """
  if len(ids) != len(texts):
    raise errors.ShapeError(f"{len(ids)} ids for {len(texts)} sentences",
                            "pass one id per sentence")
  first_row: dict[str, int] = {}
  for row, text in enumerate(texts):
    first_row.setdefault(text, row)
  stripped = collections.Counter(t.strip() for t in texts)
  rows = list(first_row.values())
  return UniqueSentences(
      rows, [str(ids[r]) if stripped[texts[r].strip()] == 1 else None
             for r in rows])


@dataclasses.dataclass(frozen=True)
class BuccCorpus:
  """One language pair of one split: sentence ids and embeddings per side,
  and the gold pairs when known (dev always; test only if you have them).
  A None id marks a sentence that is mined but never paired."""
  source_ids: Sequence[str | None]
  source: SentenceEmbeddings
  target_ids: Sequence[str | None]
  target: SentenceEmbeddings
  gold: frozenset[tuple[str, str]] | None = None


def _check_layers(embeddings: Sequence[SentenceEmbeddings],
                  layers: Sequence[int] | None, layer: int) -> list[int]:
  common = set.intersection(*(set(e.by_layer) for e in embeddings))
  layers = sorted(common) if layers is None else list(layers)
  missing = [l for l in [*layers, layer] if l not in common]
  if missing:
    raise errors.ConfigError(
        f"layers {sorted(set(missing))} were not embedded (have "
        f"{sorted(common)})", "embed those layers or choose from the ones "
        "embedded")
  poolings = {e.pooling for e in embeddings}
  if len(poolings) != 1:
    raise errors.ConfigError(f"corpora pooled differently: {sorted(poolings)}",
                             "embed every corpus with the same pooling")
  return layers


def _check_ids(corpus: BuccCorpus, name: str) -> None:
  if (len(corpus.source_ids) != len(corpus.source)
      or len(corpus.target_ids) != len(corpus.target)):
    raise errors.ShapeError(
        f"BUCC {name}: {len(corpus.source_ids)}/{len(corpus.target_ids)} ids "
        f"for {len(corpus.source)}/{len(corpus.target)} embeddings",
        "pass one id per embedded sentence on each side")


def bucc_evaluate(dev: BuccCorpus, test: BuccCorpus, *,
                  layer: int = DEFAULT_LAYER,
                  layers: Sequence[int] | None = None,
                  select: str = "fixed", k: int = MARGIN_NEIGHBOURS,
                  block_size: int = DEFAULT_BLOCK_SIZE) -> dict:
  """Mines BUCC at every layer: threshold tuned on dev, applied to test.

  Reports every swept layer (`layers`, default all embedded) and the chosen
  one: `layer` when select="fixed", the best dev F1 when select="best_dev"
  (on a tie, the lower layer).
  Returns {"layers": {layer: {"threshold", "dev": {f1, precision, recall},
  "test": {...} or None}}, "chosen": {"layer", "pooling", "threshold", "k",
  "select"}, "test_pairs": [(src id, tgt id), ...]} (test_pairs: the chosen
  layer's submission).
  """
  if dev.gold is None:
    raise errors.DataError("BUCC dev corpus has no gold pairs",
                           "the threshold is tuned on the dev (sample) split: "
                           "pass its gold pairs")
  if select not in ("fixed", "best_dev"):
    raise errors.ConfigError(f"unknown layer selection {select!r}",
                             "use 'fixed' or 'best_dev'")
  _check_ids(dev, "dev")
  _check_ids(test, "test")
  layers = _check_layers([dev.source, dev.target, test.source, test.target],
                         layers, layer)
  if layer not in layers:
    layers = sorted([*layers, layer])
  per_layer, test_pairs = {}, {}
  for l in layers:
    dev_scores = candidate_scores(
        mine_candidates(dev.source.by_layer[l], dev.target.by_layer[l], k=k,
                        block_size=block_size), dev.source_ids, dev.target_ids)
    threshold = tune_threshold(dev_scores, dev.gold)
    test_scores = candidate_scores(
        mine_candidates(test.source.by_layer[l], test.target.by_layer[l], k=k,
                        block_size=block_size), test.source_ids,
        test.target_ids)
    test_pairs[l] = extract_pairs(test_scores, threshold)
    per_layer[l] = {
        "threshold": threshold,
        "dev": metrics.bucc_f1(list(dev.gold),
                               extract_pairs(dev_scores, threshold)),
        "test": (metrics.bucc_f1(list(test.gold), test_pairs[l])
                 if test.gold is not None else None),
    }
  chosen = (layer if select == "fixed" else
            max(layers, key=lambda l: (per_layer[l]["dev"]["f1"], -l)))
  return {
      "layers": per_layer,
      "chosen": {"layer": chosen, "pooling": dev.source.pooling,
                 "threshold": per_layer[chosen]["threshold"], "k": k,
                 "select": select},
      "test_pairs": test_pairs[chosen],
  }


# ---------------------------------------------------------------------------
# Tatoeba: nearest neighbour.
# ---------------------------------------------------------------------------


def tatoeba_predict(source: np.ndarray, english: np.ndarray, *,
                    block_size: int = DEFAULT_BLOCK_SIZE) -> np.ndarray:
  """For each English sentence, the index of the closest source sentence."""
  nearest, _ = mutual_topk(english, source, 1, block_size=block_size,
                           both_directions=False)
  return nearest.indices[:, 0]


def tatoeba_evaluate(source: SentenceEmbeddings, english: SentenceEmbeddings,
                     gold: Sequence[int] | None = None, *,
                     layer: int = DEFAULT_LAYER,
                     layers: Sequence[int] | None = None,
                     block_size: int = DEFAULT_BLOCK_SIZE) -> dict:
  """Tatoeba at every layer; `layer` is the reported choice (Tatoeba has no
  dev split to select on). Returns {"layers": {layer: {"accuracy"} or {}},
  "chosen": {"layer", "pooling"}, "predictions": [index per English
  sentence at the chosen layer]}.
  """
  layers = _check_layers([source, english], layers, layer)
  if layer not in layers:
    layers = sorted([*layers, layer])
  if gold is not None and len(gold) != len(english):
    raise errors.ShapeError(f"{len(gold)} gold indices for {len(english)} "
                            "English sentences", "pass one index per sentence")
  per_layer, predictions = {}, {}
  for l in layers:
    predictions[l] = tatoeba_predict(source.by_layer[l], english.by_layer[l],
                                     block_size=block_size)
    per_layer[l] = ({} if gold is None else metrics.accuracy(
        [str(int(g)) for g in gold], [str(int(p)) for p in predictions[l]]))
  return {
      "layers": per_layer,
      "chosen": {"layer": layer, "pooling": source.pooling},
      "predictions": [int(p) for p in predictions[layer]],
  }
