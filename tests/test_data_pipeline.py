"""Feature layout, deterministic batches and masking."""

import numpy as np
import pytest

import xferjax_tasks  # noqa: F401
from xferjax import errors
from xferjax.data import features, masking, pipeline, vocab


@pytest.fixture(scope="module")
def nli():
  task = pipeline.get_task_or_mixture("synthetic_nli.syn2")
  special = vocab.special_ids(task.output_features["text_a"].vocabulary)
  arrays = pipeline.load_examples(
      "synthetic_nli.syn2", "validation", {"text_a": 14, "text_b": 7},
      features.converter_for(task, "classification", special))
  return task, special, arrays


def test_classification_layout(nli):
  task, special, arrays = nli
  ids = arrays["input_ids"]
  assert ids.shape == (600, 14 + 7 + 3)
  assert (ids[:, 0] == special["cls"]).all()
  assert ((ids == special["sep"]).sum(1) == 1).all()
  assert ((ids == special["eos"]).sum(1) == 1).all()
  np.testing.assert_array_equal(arrays["attention_mask"], ids != 0)
  vocab_ = task.output_features["text_a"].vocabulary
  first = ids[0]
  sep = int(np.argmax(first == special["sep"]))
  from xferjax_tasks.synthetic import tasks
  example = next(tasks.get_world().nli("validation", "syn2"))
  assert vocab_.decode(first[1:sep].tolist()) == example["premise"]
  assert arrays["label"][0] == example["label"]
  assert features.label_names_of(task) == ("entailment", "neutral",
                                            "contradiction")


def test_step_batcher_is_a_pure_function_of_step(nli):
  _, _, arrays = nli
  a = pipeline.StepBatcher(arrays, 32, seed=5)
  b = pipeline.StepBatcher(arrays, 32, seed=5)
  for step in (0, 3, 18, 19, 40):  # crosses epoch boundaries (600 / 32)
    np.testing.assert_array_equal(a.batch(step)["input_ids"],
                                  b.batch(step)["input_ids"])
  # One epoch visits every example exactly once.
  seen = np.concatenate([a.indices(s) for s in range(600 * 2 // 32)])
  assert sorted(seen[:600]) == list(range(600))
  assert not np.array_equal(pipeline.StepBatcher(arrays, 32, 6).indices(0),
                            a.indices(0))


def test_eval_batches_cover_everything_once(nli):
  _, _, arrays = nli
  rows = []
  for batch, real in pipeline.eval_batches(arrays, 128):
    assert batch["input_ids"].shape[0] == 128
    rows.append(batch["input_ids"][:real])
  np.testing.assert_array_equal(np.concatenate(rows), arrays["input_ids"])


def test_masking_is_deterministic_and_skips_specials(nli):
  _, special, arrays = nli
  batch = {k: v[:64] for k, v in arrays.items()}
  specials = tuple(special[k] for k in ("pad", "eos", "cls", "sep", "mask"))
  kwargs = dict(seed=1, step=7, mask_id=special["mask"], vocab_size=200,
                special_ids=specials)
  a = masking.mask_tokens(batch, **kwargs)
  b = masking.mask_tokens(batch, **kwargs)
  np.testing.assert_array_equal(a["input_ids"], b["input_ids"])
  chosen = a["loss_weights"] > 0
  assert not np.isin(batch["input_ids"][chosen], specials).any()
  real = (batch["attention_mask"] > 0) & ~np.isin(batch["input_ids"], specials)
  assert 0.08 < chosen.sum() / real.sum() < 0.25
  # Unchosen tokens are untouched; most chosen ones become <mask>.
  np.testing.assert_array_equal(a["input_ids"][~chosen],
                                batch["input_ids"][~chosen])
  assert (a["input_ids"][chosen] == special["mask"]).mean() > 0.6
  c = masking.mask_tokens(batch, **{**kwargs, "step": 8})
  assert not np.array_equal(a["loss_weights"], c["loss_weights"])


def test_unknown_split_and_task(nli):
  task, special, _ = nli
  with pytest.raises(errors.ConfigError, match="no split 'test'"):
    pipeline.load_examples("synthetic_nli.syn2", "test", {"text_a": 4,
                                                          "text_b": 4},
                           features.converter_for(task, "classification", special))
  with pytest.raises(errors.UnknownTaskError, match="synthetic_nli.syn2"):
    pipeline.get_task_or_mixture("synthetic_nli.syn22")
