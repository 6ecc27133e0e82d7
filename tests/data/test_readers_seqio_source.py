"""The SeqIO adapter, once through seqio on real data, plus its edge cases."""

import functools
import json
import pathlib

import pytest
import seqio
import tensorflow as tf

from xferjax.data.readers import conllu
from xferjax.data.readers import panx
from xferjax.data.readers import seqio_source
from xferjax.data.readers import squad_json
from xferjax.errors import DataError

REALDATA = pathlib.Path(__file__).resolve().parents[2] / ".." / "shared" / (
    "realdata")
needs_ud = pytest.mark.skipif(
    not (REALDATA / "ud-treebanks-v2.5").is_dir(),
    reason=f"real UD v2.5 slice not found under {REALDATA}")


def test_output_signature_follows_features_including_nesting():
  signature = seqio_source.output_signature(squad_json.FEATURES)
  assert signature["id"] == tf.TensorSpec([], tf.string, name="id")
  assert signature["answers"]["answer_start"].shape.as_list() == [None]
  assert signature["answers"]["answer_start"].dtype == tf.int32
  assert signature["is_impossible"].dtype == tf.bool


@needs_ud
def test_seqio_task_over_real_udpos_slice():
  source = seqio_source.reader_source(
      functools.partial(conllu.read_udpos, str(REALDATA), language="zh"),
      conllu.FEATURES, splits=["validation", "test"])
  task = seqio.Task("xferjax_readers_test_udpos_zh", source=source,
                    output_features={}, preprocessors=[])
  dataset = task.get_dataset(sequence_length=None, split="validation",
                             shuffle=False)
  sentences = list(dataset.as_numpy_iterator())
  assert len(sentences) == 40
  first = sentences[0]
  assert first["sent_id"] == b"dev-s1"
  assert [t.decode() for t in first["tokens"][:3]] == ["同樣", "，", "施力"]
  assert first["upos"].shape == first["tokens"].shape
  # Iterating twice re-reads the files rather than an exhausted generator.
  assert len(list(dataset.as_numpy_iterator())) == 40


@needs_ud
def test_missing_split_raises_data_error_when_dataset_is_built():
  source = seqio_source.reader_source(
      functools.partial(conllu.read_udpos, str(REALDATA), language="zh"),
      conllu.FEATURES, splits=["train"])
  with pytest.raises(DataError, match="zh_\\*-ud-train.conllu"):
    source.get_dataset("train", shuffle=False)


def test_empty_lists_and_extra_fields(tmp_path):
  (tmp_path / "test-de.tsv").write_text("Köln\nliegt\n", encoding="utf-8")

  def read_split(split):
    for example in panx.read_panx_file(str(tmp_path / f"{split}-de.tsv"), "de",
                                       with_tags=False):
      yield {**example, "not_declared": 1}

  dataset = seqio_source.dataset_from_reader(read_split, panx.FEATURES,
                                             "test")
  (example,) = list(dataset.as_numpy_iterator())
  assert set(example) == {"tokens", "tags"}
  assert example["tags"].shape == (0,)


def test_malformed_record_error_text_survives_tf_data(tmp_path):
  (tmp_path / "xquad.de.json").write_text(json.dumps({"data": [{
      "title": "t", "paragraphs": [{"context": "Größe", "qas": [{
          "id": "q", "question": "?",
          "answers": [{"text": "röß", "answer_start": 0}]}]}]}]}),
                                          encoding="utf-8")
  dataset = seqio_source.dataset_from_reader(
      functools.partial(squad_json.read_xquad, str(tmp_path), language="de"),
      squad_json.FEATURES, "test")
  with pytest.raises(tf.errors.OpError,
                     match=r"xquad\.de\.json.*answer offset mismatch"):
    list(dataset.as_numpy_iterator())
