"""Retrieval on synthetic embeddings with known translation pairs."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from xferjax import errors
from xferjax.evaluation import metrics
from xferjax.evaluation import retrieval

DIM = 32


def _unit(x):
  return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _bilingual(rng, n_pairs, n_distractors, noise, prefix=""):
  """Source/target embeddings where target t{i} translates source s{p(i)} for
  i < n_pairs (the source vector plus Gaussian noise of about `noise` times
  its norm), and the rest are unrelated distractors on both sides."""
  n = n_pairs + n_distractors
  source = _unit(rng.standard_normal((n, DIM)))
  partners = rng.permutation(n)[:n_pairs]
  target = _unit(rng.standard_normal((n, DIM)))
  target[:n_pairs] = _unit(source[partners]
                           + noise / np.sqrt(DIM)
                           * rng.standard_normal((n_pairs, DIM)))
  source_ids = [f"{prefix}s{i}" for i in range(n)]
  target_ids = [f"{prefix}t{i}" for i in range(n)]
  gold = frozenset((source_ids[p], target_ids[i])
                   for i, p in enumerate(partners))
  return source, target, source_ids, target_ids, gold


def _corpus(rng, noise_by_layer, n_pairs=150, n_distractors=50, prefix=""):
  """A BuccCorpus whose layer l has translation noise noise_by_layer[l]."""
  by_layer_src, by_layer_tgt = {}, {}
  state = rng.bit_generator.state
  for layer, noise in noise_by_layer.items():
    rng.bit_generator.state = state  # same pairs at every layer
    src, tgt, src_ids, tgt_ids, gold = _bilingual(rng, n_pairs, n_distractors,
                                                  noise, prefix)
    by_layer_src[layer], by_layer_tgt[layer] = src, tgt
  return retrieval.BuccCorpus(
      src_ids, retrieval.SentenceEmbeddings("mean", by_layer_src), tgt_ids,
      retrieval.SentenceEmbeddings("mean", by_layer_tgt), gold)


# --------------------------------------------------------------------------
# Blocked == dense.


@pytest.mark.parametrize("n,m,block", [(97, 61, 16), (40, 40, 40), (5, 3, 2)])
def test_blocked_topk_equals_dense(n, m, block):
  rng = np.random.default_rng(n)
  x, y = rng.standard_normal((n, DIM)), rng.standard_normal((m, DIM))
  forward, backward = retrieval.mutual_topk(x, y, 4, block_size=block)
  dense_forward, dense_backward = retrieval.mutual_topk_dense(x, y, 4)
  for blocked, dense in ((forward, dense_forward), (backward, dense_backward)):
    np.testing.assert_array_equal(blocked.indices, dense.indices)
    np.testing.assert_allclose(blocked.similarities, dense.similarities,
                               atol=1e-5)
  assert forward.indices.shape == (n, min(4, m))


def test_blocked_mining_gives_the_dense_pairs():
  rng = np.random.default_rng(0)
  source, target, _, _, _ = _bilingual(rng, 120, 80, noise=0.8)
  blocked = retrieval.margin_candidates(
      *retrieval.mutual_topk(source, target, 4, block_size=48))
  dense = retrieval.margin_candidates(
      *retrieval.mutual_topk_dense(source, target, 4))
  assert [(c.source, c.target) for c in blocked] == [
      (c.source, c.target) for c in dense]
  np.testing.assert_allclose([c.score for c in blocked],
                             [c.score for c in dense], rtol=1e-5)


def test_blocks_spread_over_several_devices_match_dense():
  script = textwrap.dedent("""
      import jax, numpy as np
      from xferjax.evaluation import retrieval
      assert jax.local_device_count() == 2
      rng = np.random.default_rng(1)
      x, y = rng.standard_normal((70, 16)), rng.standard_normal((50, 16))
      f, b = retrieval.mutual_topk(x, y, 3, block_size=16)
      df, db = retrieval.mutual_topk_dense(x, y, 3)
      assert (f.indices == df.indices).all() and (b.indices == db.indices).all()
      print("ok")
  """)
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
             JAX_PLATFORMS="cpu")
  result = subprocess.run([sys.executable, "-c", script], env=env,
                          capture_output=True, text=True, timeout=120,
                          cwd=os.path.dirname(os.path.dirname(
                              os.path.dirname(os.path.abspath(__file__)))))
  assert result.stdout.strip() == "ok", result.stderr[-2000:]


# --------------------------------------------------------------------------
# BUCC and Tatoeba scores.


def test_bucc_exact_embeddings_score_100_and_threshold_transfers():
  rng = np.random.default_rng(2)
  dev = _corpus(rng, {14: 0.0}, prefix="dev-")
  test = _corpus(rng, {14: 0.0}, n_pairs=200, n_distractors=100,
                 prefix="test-")
  result = retrieval.bucc_evaluate(dev, test, block_size=64)
  assert result["layers"][14]["dev"]["f1"] == 100.0
  assert result["layers"][14]["test"]["f1"] == 100.0
  assert set(result["test_pairs"]) == test.gold
  assert result["chosen"] == {"layer": 14, "pooling": "mean",
                              "threshold": result["layers"][14]["threshold"],
                              "k": 4, "select": "fixed"}


def test_bucc_degrades_with_noise():
  f1 = []
  for noise in (0.0, 1.0, 1.5, 2.0, 3.0):
    rng = np.random.default_rng(3)
    dev = _corpus(rng, {14: noise}, prefix="d")
    test = _corpus(rng, {14: noise}, prefix="t")
    f1.append(retrieval.bucc_evaluate(dev, test)["layers"][14]["test"]["f1"])
  assert f1[0] == 100.0
  assert f1[-1] < 40.0
  assert all(later <= earlier + 2.0 for earlier, later in zip(f1, f1[1:])), f1


def test_bucc_layer_sweep_reports_every_layer_and_selects_on_dev():
  rng = np.random.default_rng(4)
  noise = {7: 3.0, 14: 1.5, 20: 0.0}
  dev = _corpus(rng, noise, prefix="d")
  test = _corpus(rng, noise, prefix="t")
  fixed = retrieval.bucc_evaluate(dev, test)
  assert sorted(fixed["layers"]) == [7, 14, 20]
  assert fixed["chosen"]["layer"] == 14
  best = retrieval.bucc_evaluate(dev, test, select="best_dev")
  assert best["chosen"]["layer"] == 20
  assert best["layers"][20]["test"]["f1"] == 100.0
  assert set(best["test_pairs"]) == test.gold
  only = retrieval.bucc_evaluate(dev, test, layers=[7])
  assert sorted(only["layers"]) == [7, 14]  # the chosen layer is always run


def test_bucc_bad_configuration():
  rng = np.random.default_rng(5)
  dev = _corpus(rng, {14: 0.0}, n_pairs=10, n_distractors=5)
  with pytest.raises(errors.ConfigError, match="were not embedded"):
    retrieval.bucc_evaluate(dev, dev, layer=3)
  with pytest.raises(errors.DataError, match="no gold pairs"):
    retrieval.bucc_evaluate(
        retrieval.BuccCorpus(dev.source_ids, dev.source, dev.target_ids,
                             dev.target), dev)
  with pytest.raises(errors.ShapeError, match="ids"):
    retrieval.bucc_evaluate(
        retrieval.BuccCorpus(dev.source_ids[:-1], dev.source, dev.target_ids,
                             dev.target, dev.gold), dev)


def test_repeated_sentences_are_mined_once_and_never_paired():
  ids = ["s0", "s1", "s2", "s3", "s4"]
  texts = ["a", "b", "a", "c ", "c"]  # "a" twice; "c " and "c" once each
  unique = retrieval.unique_sentences(ids, texts)
  # Mined: first "a", "b", "c " and "c" (distinct as raw text); paired: only
  # those whose stripped text occurs once, i.e. "b".
  assert unique.rows == [0, 1, 3, 4]
  assert unique.ids == [None, "s1", None, None]
  candidates = [retrieval.Candidate(0, 0, 2.0),
                retrieval.Candidate(1, 1, 1.5)]
  assert retrieval.candidate_scores(candidates, unique.ids, ["t0", "t1"]) == {
      ("s1", "t1"): 1.5}
  with pytest.raises(errors.ShapeError):
    retrieval.unique_sentences(ids, texts[:2])


def test_bucc_results_are_json_and_record_the_choice():
  rng = np.random.default_rng(7)
  dev = _corpus(rng, {3: 3.0, 5: 0.0}, n_pairs=30, n_distractors=10)
  result = retrieval.bucc_evaluate(dev, dev, layer=3, select="best_dev")
  restored = json.loads(json.dumps(result))
  assert restored["chosen"] == {"layer": 5, "pooling": "mean", "k": 4,
                                "select": "best_dev",
                                "threshold": result["layers"][5]["threshold"]}
  assert set(restored["layers"]) == {"3", "5"}
  assert len(restored["test_pairs"]) == 30


def test_tune_threshold_rule():
  scores = {("a", "1"): 3.0, ("b", "2"): 2.0, ("c", "3"): 1.0,
            ("d", "4"): 0.5}
  # Best F1 after the second candidate: midpoint of 2.0 and 1.0.
  assert retrieval.tune_threshold(scores, {("a", "1"), ("b", "2")}) == 1.5
  # Best at the last candidate: its own score (everything is kept).
  assert retrieval.tune_threshold(scores, set(scores)) == 0.5
  assert retrieval.tune_threshold(scores, {("z", "9")}) == 0.0
  assert retrieval.extract_pairs(scores, 1.5) == [("a", "1"), ("b", "2")]


def _tatoeba(noise, seed=6, n=150):
  rng = np.random.default_rng(seed)
  source = _unit(rng.standard_normal((n, DIM)))
  order = rng.permutation(n)  # English sentence i translates source order[i]
  english = _unit(source[order]
                  + noise / np.sqrt(DIM) * rng.standard_normal((n, DIM)))
  return source, english, order


def test_tatoeba_exact_is_100_and_degrades():
  accuracies = []
  for noise in (0.0, 1.0, 1.5, 2.0, 3.0):
    source, english, gold = _tatoeba(noise)
    result = retrieval.tatoeba_evaluate(
        retrieval.SentenceEmbeddings("first", {3: source}),
        retrieval.SentenceEmbeddings("first", {3: english}), gold, layer=3,
        block_size=64)
    accuracies.append(result["layers"][3]["accuracy"])
    if noise == 0.0:
      assert result["predictions"] == list(gold)
      assert result["chosen"] == {"layer": 3, "pooling": "first"}
  assert accuracies[0] == 100.0 and accuracies[-1] < 30.0
  assert all(b <= a + 2.0 for a, b in zip(accuracies, accuracies[1:]))


def test_tatoeba_predictions_score_with_official_accuracy():
  source, english, gold = _tatoeba(1.5)
  predictions = retrieval.tatoeba_predict(source, english, block_size=32)
  expected = float(np.mean(predictions == gold) * 100)
  assert metrics.accuracy([str(g) for g in gold],
                          [str(p) for p in predictions])["accuracy"] == (
                              pytest.approx(expected))


# --------------------------------------------------------------------------
# Pooling and embedding through a hidden_states_fn(ids, mask).


def _fake_hidden_states(num_layers=3):
  """hidden_states_fn whose state at layer l, token t of a sentence is
  (l + 1) * (t + 1) * ids-row (the "ids" are float vectors here)."""
  def hidden_states_fn(ids, mask):
    layers = np.arange(num_layers + 1, dtype=np.float32)[:, None, None, None]
    tokens = np.arange(mask.shape[1], dtype=np.float32)[None, None, :, None]
    return (layers + 1) * (tokens + 1) * ids[None, :, None, :]
  return hidden_states_fn


def test_embed_sentences_mean_and_first_pooling():
  base = np.array([[1, 0, 0, 0], [0, 2, 0, 0], [0, 0, 0, 0]], np.float32)
  mask = np.array([[1, 1, 0], [1, 1, 1], [0, 0, 0]], np.int32)  # row 3: pad
  batches = [(base, mask), (base[:1] * -1, mask[:1])]
  mean = retrieval.embed_sentences(_fake_hidden_states(), batches,
                                   layers=(0, 2))
  assert mean.pooling == "mean" and mean.layers == [0, 2] and len(mean) == 3
  np.testing.assert_allclose(mean.by_layer[2],
                             [[1, 0, 0, 0], [0, 1, 0, 0], [-1, 0, 0, 0]])
  first = retrieval.embed_sentences(_fake_hidden_states(), batches,
                                    layers=(1,), pooling="first")
  np.testing.assert_allclose(first.by_layer[1][1], [0, 1, 0, 0])
  np.testing.assert_allclose(mean.take([2, 0]).by_layer[0],
                             mean.by_layer[0][[2, 0]])


def test_mean_pooling_ignores_padding_tokens():
  hidden = np.zeros((1, 1, 3, 2), np.float32)
  hidden[0, 0] = [[1, 0], [0, 1], [100, 100]]  # last token is padding
  pooled = retrieval.pool_hidden_states(hidden, np.array([[1, 1, 0]]), (0,),
                                        "mean")
  np.testing.assert_allclose(np.asarray(pooled)[0, 0], [2**-0.5, 2**-0.5],
                             rtol=1e-6)


def test_embed_sentences_rejects_bad_input():
  batch = (np.ones((1, 4), np.float32), np.ones((1, 2), np.int32))
  with pytest.raises(errors.ShapeError, match="layers \\[4\\]"):
    retrieval.embed_sentences(_fake_hidden_states(num_layers=3), [batch],
                              layers=(4,))
  with pytest.raises(errors.ConfigError, match="pooling"):
    retrieval.embed_sentences(_fake_hidden_states(), [batch], pooling="max")
  with pytest.raises(errors.DataError, match="token ids"):
    retrieval.embed_sentences(_fake_hidden_states(), [{"labels": 1}])
  with pytest.raises(errors.ShapeError, match="returned"):
    retrieval.embed_sentences(lambda ids, mask: np.ones((2, 1, 4)), [batch])
  with pytest.raises(errors.ConfigError, match="neither"):
    retrieval.model_hidden_states_fn(object(), {})


def _check_family(model, init_args, ids, mask, batches, num_layers):
  """Both families: init (only what retrieval uses), plug in, embed every
  layer, compare with a hand-pooled layer of the model's own states."""
  import jax
  method = ("encoder_hidden_states" if hasattr(model, "encoder_hidden_states")
            else "hidden_states")
  params = model.init({"params": jax.random.PRNGKey(0)}, *init_args,
                      method=method)["params"]
  fn = retrieval.model_hidden_states_fn(model, params)
  states = np.asarray(fn(ids, mask))
  assert states.shape == (num_layers + 1, 3, ids.shape[1], 32)
  emb = retrieval.embed_sentences(fn, batches, layers=range(num_layers + 1))
  assert emb.layers == list(range(num_layers + 1)) and len(emb) == 3
  real = mask[:, :, None].astype(np.float32)
  manual = (states[1] * real).sum(1) / real.sum(1)
  manual /= np.linalg.norm(manual, axis=1, keepdims=True)
  np.testing.assert_allclose(emb.by_layer[1], manual, rtol=1e-4, atol=1e-5)


def test_xlmr_and_mt5_families_plug_in():
  from xferjax.models.encoder import EncoderConfig, EncoderModel
  from xferjax.models.t5 import EncoderDecoderModel, T5Config
  ids = np.array([[5, 6, 7, 8], [9, 10, 0, 0], [11, 0, 0, 0]], np.int32)
  mask = (ids > 0).astype(np.int32)
  xlmr = EncoderModel(EncoderConfig(vocab_size=64, d_model=32, num_layers=2,
                                    num_heads=4, d_ff=64, max_len=8),
                      head="embedding")
  # XLM-R batches as (ids, mask) pairs (one shape: one compilation).
  _check_family(xlmr, (ids, mask), ids, mask, [(ids, mask)], 2)
  mt5 = EncoderDecoderModel(T5Config(vocab_size=64, d_model=32, num_heads=4,
                                     head_dim=8, d_ff=64,
                                     num_encoder_layers=3,
                                     num_decoder_layers=1))
  # mT5 batches as seqio features: the mask comes from the tokens (pad 0).
  _check_family(mt5, (ids,), ids, mask, [{"encoder_input_tokens": ids}], 3)


def test_default_is_jiant_xlmr_large():
  assert (retrieval.DEFAULT_LAYER, retrieval.DEFAULT_POOLING,
          retrieval.MARGIN_NEIGHBOURS) == (14, "mean", 4)
