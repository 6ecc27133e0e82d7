"""One small batch of any registered task, and the batch contract it meets."""

import gin
import numpy as np

from xferjax.data import features, pipeline, vocab
from xferjax.models import losses

SPAN_OPTIONS = {"max_length": 48, "doc_stride": 8, "max_question_length": 16}


def task_lengths(task, head):
  """Small task feature lengths for every text feature of `head`."""
  if head == "text_to_text":
    return {"inputs": 64, "targets": 16}
  if head == "span":
    return {"question": 16, "context": 4096}
  if head == "tagging":
    return {"tokens": 24, "tags": 24}
  if head == "multiple_choice":
    n = features.num_choices_of(task)
    return {"text_a": 16, **{features.choice_key(i): 8 for i in range(n)}}
  keys = [k for k in ("text_a", "text_b") if k in task.output_features]
  return {k: 12 for k in keys}


def converter(task, head):
  text = next(f.vocabulary for k, f in task.output_features.items()
              if k in ("text_a", "question", "tokens", "inputs"))
  ids = {} if head == "text_to_text" else vocab.special_ids(text)
  options = SPAN_OPTIONS if head == "span" else {}
  return features.converter_for(task, head, ids, **options)


def unset(*macros):
  for macro in macros:
    gin.bind_parameter(f"%{macro}", None)


def load(name, split):
  task = pipeline.get_task_or_mixture(name)
  head = features.head_of(task.tasks[0] if hasattr(task, "tasks") else task)
  arrays = pipeline.load_examples(name, split, task_lengths(task, head),
                                  converter(task, head))
  return task, head, arrays


def check_contract(head, arrays, task=None):
  """The arrays carry every target of `head` and the input layout
  `xferjax.models.api.batch_shapes` expects."""
  if head == "embedding" and arrays["input_ids"].ndim == 3:
    assert arrays["input_ids"].shape[1] == 2  # (text_a, text_b) pairs
    arrays = features.pair_rows(arrays)
  missing = set(losses.TARGET_FEATURES[head]) - set(arrays)
  assert not missing, f"{head} batch lacks {missing}"
  n = len(next(iter(arrays.values())))
  assert n > 0
  for key, value in arrays.items():
    assert len(value) == n, key
    assert value.dtype in (np.int32, np.float32), (key, value.dtype)
  if head == "text_to_text":
    assert arrays["encoder_input_tokens"].shape == (n, 64)
    assert arrays["decoder_target_tokens"].shape == (n, 16)
    return
  ids = arrays["input_ids"]
  if head == "multiple_choice":
    assert ids.ndim == 3 and ids.shape[1] == features.num_choices_of(task)
  else:
    assert ids.ndim == 2
  assert arrays["attention_mask"].shape == ids.shape
  if head == "tagging":
    assert arrays["labels"].shape == ids.shape
  if head == "span":
    assert arrays["token_char_start"].shape == ids.shape
    assert (arrays["start_position"] <= arrays["end_position"]).all()
