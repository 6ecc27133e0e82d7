"""Label sets per task, and what malformed files and bad names do."""

import gin
import pytest
import seqio
import tensorflow as tf

from tests.tasks import batching
from xferjax import errors
from xferjax.data import features, pipeline
from tests.tasks.fixtures import bind_macros, env, tfds_mock  # noqa: F401


def test_label_sets():
  names = lambda task, key: features.label_names_of(
      seqio.get_mixture_or_task(task), key)
  assert len(names("udpos.de", "tags")) == 17
  assert "PROPN" in names("udpos.de", "tags")
  assert names("panx.sw", "tags") == ("O", "B-PER", "I-PER", "B-ORG",
                                      "I-ORG", "B-LOC", "I-LOC")
  assert names("xnli.hi", "label") == ("entailment", "neutral",
                                       "contradiction")
  assert len(names("pawsx.zh", "label")) == 2
  assert len(names("commonsenseqa", "label")) == 5


def test_ccg_inventory_from_training_data_with_oov_tag():
  gin.parse_config("xferjax_tasks.intermediate.ccg_supertags.min_count = 3")
  from xferjax_tasks import intermediate
  tags = intermediate.ccg_supertags()
  # Fixture counts: N/N 3x, N 3x per section x 20 sections; S\NP 1x each.
  assert tags[0] == "<OOV>"
  assert set(tags) == {"<OOV>", "N", "N/N", "S\\NP"}
  gin.parse_config("xferjax_tasks.intermediate.ccg_supertags.min_count = 21")
  assert intermediate.ccg_supertags() == ("<OOV>", "N", "N/N")
  # A tag outside the inventory gets the OOV label id 0, not an error.
  task = seqio.get_mixture_or_task("ccg")
  vocabulary = task.output_features["tags"].vocabulary
  vocabulary._loaded = ("<OOV>", "N", "N/N")  # as built with min_count 21
  arrays = pipeline.load_examples(
      "ccg", "validation", {"tokens": 24, "tags": 24},
      batching.converter(task, "tagging"))
  labels = arrays["labels"]
  assert set(labels[labels >= 0].tolist()) == {0, 1, 2}
  vocabulary._loaded = None


def _corrupt(env, macro, rel, text):
  import pathlib
  path = pathlib.Path(env[macro]) / rel
  old = path.read_text()
  path.write_text(text)
  return path, old


def test_malformed_lines_name_file_and_line_or_are_skipped(env):
  path, old = _corrupt(env, "PANX_DATA_DIR", "de-dev",
                       "de:Rick\tB-PER\nde:and\tO\textra\n\nde:Ok\tO\n")
  try:
    task = seqio.get_mixture_or_task("panx.de")
    conv = batching.converter(task, "tagging")
    with pytest.raises(tf.errors.OpError,
                       match=f"{path}:2.*wrong column count"):
      pipeline.load_examples("panx.de", "validation",
                             {"tokens": 24, "tags": 24}, conv)
    gin.bind_parameter("%DATA_ON_ERROR", "skip")
    arrays = pipeline.load_examples("panx.de", "validation",
                                    {"tokens": 24, "tags": 24}, conv)
    assert len(arrays["labels"]) == 1  # the good sentence only
  finally:
    path.write_text(old)


def test_bad_json_line_names_file_and_line(env):
  rel = "dev_rand_split.jsonl"
  path, old = _corrupt(env, "COMMONSENSEQA_DATA_DIR", rel, "{not json\n")
  try:
    with pytest.raises(tf.errors.OpError, match=f"{path}:1.*bad JSON"):
      batching.load("commonsenseqa", "validation")
  finally:
    path.write_text(old)


def test_missing_source_says_what_to_download():
  batching.unset("PANX_DATA_DIR")
  with pytest.raises(errors.ConfigError, match="PANX_DATA_DIR.*AmazonPhotos"):
    batching.load("panx.de", "train")
  with pytest.raises(errors.DataError, match="tfds build glue/qqp"):
    gin.bind_parameter("%TFDS_DATA_DIR", "/nonexistent/tfds")
    batching.load("qqp", "train")
