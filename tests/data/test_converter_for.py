"""`converter_for`: one table from head type to feature converter."""

import pytest
import seqio

from xferjax import errors
from xferjax.data import features

IDS = {"pad": 0, "eos": 1, "cls": 3, "sep": 4, "mask": 5}


def _task(output_features):
  return seqio.Task("xferjax_test_converter_for", source=seqio.FunctionDataSource(
      lambda split, shuffle_files, seed=None: None, splits=["train"]),
      output_features=output_features, preprocessors=[])


def test_classification_pair_follows_text_b():
  vocab = seqio.PassThroughVocabulary(10)
  text = seqio.Feature(vocab)
  label = features.label_feature(["a", "b"])
  pair = features.converter_for(
      _task({"text_a": text, "text_b": text, "label": label}),
      "classification", IDS)
  single = features.converter_for(_task({"text_a": text, "label": label}),
                                  "classification", IDS)
  assert isinstance(pair, features.EncoderClassificationConverter)
  assert "text_b" in pair.TASK_FEATURES
  assert "text_b" not in single.TASK_FEATURES
  mlm = features.converter_for(_task({"text": text}), "mlm", IDS)
  assert isinstance(mlm, features.EncoderMlmConverter)


def test_unknown_head_names_the_known_ones():
  with pytest.raises(errors.ConfigError, match="classification"):
    features.converter_for(_task({}), "seq2seq", IDS)
