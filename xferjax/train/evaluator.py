"""Evaluation of a model on SeqIO tasks (e.g. every language of a target).

Every head has its XTREME metrics (`METRICS_BY_HEAD`; `eval_heads` turns
the head's outputs into predictions): the numbers come from
`xferjax.evaluation.scorer.score_task`, the official scorer's own code, so
an in-training evaluation, `xferjax eval` and `xferjax xtreme-score` on the
written files agree exactly. A task `<xtreme task>.<language>` (or its
`mt5.` twin) is scored as that XTREME task; any other task with the metric
of the XTREME task of its kind (`ANALOG`): accuracy for labels (XNLI's),
seqeval F1 for tags plus token accuracy (UDPOS's), SQuAD EM/F1 for QA
(XQuAD's), BUCC F1 for mined pairs, accuracy for Tatoeba-style ranking.

Per task and split the evaluator writes (process 0, into `predictions_dir`):

  <task>.<split>.scores.tsv   per-example scores, one column per metric
                              (`example_scores`: their mean is the metric),
                              for the study's bootstrap over examples
  <task>.<split>.jsonl        per example: prediction and gold
  xtreme/<split>/predictions/<xtreme task>/test-<lang>.{tsv,json}
  xtreme/<split>/labels/<xtreme task>/test-<lang>.{tsv,json}
                              the official submission layout (XTREME tasks
                              only; named test-* whatever the split, as the
                              official scorer reads them)

`Evaluator` loads each task's examples once and compiles the predict step
once, so evaluating every N steps during training costs only the forward
passes (and, for mT5, the greedy decoding).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from typing import Any, Callable

import jax
import numpy as np
from jax.experimental import multihost_utils

from xferjax import errors, partitioning
from xferjax.data import features as features_lib
from xferjax.data import pipeline, task_info
from xferjax.evaluation import scorer, submission
from xferjax.evaluation import tasks as xtreme_tasks
from xferjax.models.t5 import TEXT_TO_TEXT
from xferjax.train import eval_heads, example_scores, results_io
from xferjax.train.eval_heads import RetrievalSettings

# head -> what it is scored with (every head but mlm has a metric).
METRICS_BY_HEAD: Mapping[str, str] = {
    "classification": "accuracy",
    "multiple_choice": "accuracy",
    "tagging": "seqeval entity F1 / precision / recall",
    "span": "SQuAD exact match / F1",
    TEXT_TO_TEXT: "the metric of the task's kind, on the generated text",
    "embedding": "BUCC F1 (mined pairs) or Tatoeba accuracy",
}
# The XTREME task whose metric scores a non-XTREME task of each kind.
ANALOG = {"labels": "xnli", "tags": "udpos", "qa": "xquad",
          "pairs": "bucc2018", "ranking": "tatoeba"}
# XTREME tasks whose official files hold class indices, not names.
LABELS_AS_INDEX = ("pawsx",)
SCORES_SUFFIX = "scores.tsv"


def check_head(head: str, what: str = "eval_tasks") -> None:
  if head not in METRICS_BY_HEAD:
    raise errors.ConfigError(
        f"head {head!r} has no evaluation metric, so it cannot have {what}",
        f"evaluate with one of the heads {sorted(METRICS_BY_HEAD)} (a "
        f"{head} run's own loss is in metrics.jsonl), or leave {what} empty")


@dataclasses.dataclass(frozen=True)
class TaskKey:
  """How a registered task name maps onto the XTREME table."""

  name: str
  xtreme_task: str | None  # None: not an XTREME task (scored by analogy)
  language: str
  # The language the scorer normalises by (MLQA cross pairs: the context's).
  scoring_language: str

  def scoring_task(self, kind: str) -> str:
    return self.xtreme_task or ANALOG[kind]


def task_key(name: str) -> TaskKey:
  """'xnli.de', 'mt5.xquad.de' -> XTREME rows; anything else (e.g.
  'synthetic_nli.syn1', 'mlqa.de.en') keeps its language but is not in the
  submission layout."""
  bare = name[len(task_info.T2T_PREFIX):] if name.startswith(
      task_info.T2T_PREFIX) else name
  base, _, rest = bare.partition(".")
  language = rest or bare
  spec = xtreme_tasks.XTREME_TASKS.get(base)
  if spec is not None and rest in spec.languages:
    return TaskKey(name, base, rest, rest)
  return TaskKey(name, None, language, language.split(".")[0])


def predict_outputs(partitioner: partitioning.Partitioner, step: Callable,
                    params, arrays: dict[str, np.ndarray], batch_size: int,
                    input_keys=("input_ids", "attention_mask")) -> np.ndarray:
  """`step(params, batch)` on every example, in order, on any mesh and
  process count; the last batch is padded (and the padding dropped)."""
  shards = partitioner.data_parallel_size * jax.process_count()
  batch_size = -(-batch_size // shards) * shards  # round up to divide evenly
  outputs = []
  for batch, real in pipeline.eval_batches(arrays, batch_size):
    rows = pipeline.host_slice(np.arange(batch_size))
    local = {k: v[rows] for k, v in batch.items() if k in input_keys}
    with partitioner.context():
      out = step(params, partitioning.host_local_to_global(local,
                                                           partitioner))
    out = multihost_utils.process_allgather(out, tiled=True)
    outputs.append(np.asarray(out)[:real])
  return np.concatenate(outputs)


def predict_logits(prepared, params, arrays: dict[str, np.ndarray],
                   batch_size: int, predict: Callable | None = None
                   ) -> np.ndarray:
  """The head's outputs (logits) for every example, in order."""
  predict = predict or jax.jit(eval_heads.forward_step(prepared.model))
  return predict_outputs(prepared.partitioner, predict, params, arrays,
                         batch_size)


class Evaluator:
  """Evaluates params on fixed tasks; data and compiled steps are reused.

  `select_params` maps the params the caller has to the ones `prepared`'s
  model takes (a multi-task run's view of one task's head).
  """

  def __init__(self, prepared, task_names, split: str,
               task_feature_lengths: dict[str, int],
               converter_fn: Callable[[Any], Any], batch_size: int,
               head: str = "classification", *,
               retrieval: RetrievalSettings | None = None,
               select_params: Callable[[Any], Any] | None = None):
    check_head(head)
    self.prepared = prepared
    self.task_names = tuple(task_names)
    self.split = split
    self.batch_size = batch_size
    self.head = head
    self.retrieval = retrieval or RetrievalSettings()
    self.retrieval.validate()
    self.select_params = select_params or (lambda p: p)
    self._lengths = task_feature_lengths
    self._converter_fn = converter_fn
    self._splits: dict[tuple[str, str], eval_heads.Split] = {}
    self._steps: dict[Any, Callable] = {}
    # Per task, what the last evaluation chose (retrieval layers...).
    self.details: dict[str, dict] = {}

  # --- data ---------------------------------------------------------------

  def _split(self, name: str, split: str) -> eval_heads.Split:
    key = (name, split)
    if key not in self._splits:
      task = pipeline.get_task_or_mixture(name)
      need_raw = self.head not in ("classification", "multiple_choice") and (
          not (self.head == "embedding" and eval_heads.is_pair_task(task)))
      self._check_labels(name, task)
      self._splits[key] = eval_heads.load_split(
          name, split, self._lengths, self._converter_fn(task), need_raw)
    return self._splits[key]

  def _check_labels(self, name: str, task) -> None:
    """A label head only scores tasks of its own label set (PAN-X tags
    are not UD-POS tags): their sizes must agree."""
    if self.head not in ("classification", "tagging"):
      return
    names = features_lib.label_names_of(
        task, "tags" if self.head == "tagging" else "label")
    size = getattr(self.prepared.model, "num_labels", len(names))
    if len(names) != size:
      raise errors.ConfigError(
          f"eval task {name!r} has {len(names)} labels but the {self.head} "
          f"head predicts {size}", "evaluate on tasks with the labels of the"
          " training task (e.g. panx.* after panx.en)")

  # --- predict steps ------------------------------------------------------

  def _step(self, key, make: Callable[[], Callable]) -> Callable:
    if key not in self._steps:
      self._steps[key] = jax.jit(make())
    return self._steps[key]

  def _outputs(self, split: eval_heads.Split, params, step_key, make,
               input_keys=("input_ids", "attention_mask")) -> np.ndarray:
    return predict_outputs(self.prepared.partitioner,
                           self._step(step_key, make), params, split.arrays,
                           self.batch_size, input_keys)

  def _decode(self, name: str, params, key: TaskKey) -> eval_heads.Decoded:
    model = self.prepared.model
    split = self._split(name, self.split)
    as_index = key.xtreme_task in LABELS_AS_INDEX
    head = self.head
    if head in ("classification", "multiple_choice"):
      out = self._outputs(split, params, "argmax",
                          lambda: eval_heads.argmax_step(model))
      return eval_heads.decode_classification(split, out, as_index)
    if head == "tagging":
      out = self._outputs(split, params, "argmax",
                          lambda: eval_heads.argmax_step(model))
      return eval_heads.decode_tagging(split, out)
    if head == "span":
      out = self._outputs(split, params, "forward",
                          lambda: eval_heads.forward_step(model))
      return eval_heads.decode_span(split, out)
    if head == TEXT_TO_TEXT:
      length = split.arrays["decoder_target_tokens"].shape[1]
      out = self._outputs(
          split, params, ("generate", length),
          lambda: eval_heads.generate_step(model, length),
          ("encoder_input_tokens",))
      return eval_heads.decode_text_to_text(split, out, as_index)
    return self._decode_retrieval(name, split, params)

  def _decode_retrieval(self, name, split, params) -> eval_heads.Decoded:
    settings, model = self.retrieval, self.prepared.model
    num_layers = eval_heads.encoder_layers(model)
    layer = settings.layer_for(num_layers)
    layers = settings.layers_for(num_layers)
    make = lambda: eval_heads.embed_step(model, layers, settings.pooling)

    def embed(s: eval_heads.Split) -> np.ndarray:
      arrays = s.arrays
      if arrays["input_ids"].ndim == 3:
        arrays = features_lib.pair_rows(arrays)
      return predict_outputs(self.prepared.partitioner,
                             self._step(("embed", layers), make), params,
                             arrays, self.batch_size)

    if eval_heads.is_pair_task(split.task):
      return eval_heads.decode_tatoeba(split, embed(split), layers, settings,
                                       layer)
    if settings.tune_split not in split.task.splits:
      raise errors.ConfigError(
          f"retrieval task {name!r} has no {settings.tune_split!r} split to "
          "tune the BUCC margin threshold on (it has "
          f"{sorted(split.task.splits)})",
          "BUCC tunes its threshold on the dev (sample) split: register the "
          "task with one, or set RetrievalRun.tune_split to a split with gold"
          " pairs")
    tune = self._split(name, settings.tune_split)
    return eval_heads.decode_bucc(
        split, embed(split), tune, embed(tune), layers, settings, layer,
        eval_heads.gold_pairs(name, self.split),
        eval_heads.gold_pairs(name, settings.tune_split))

  # --- scoring and writing ------------------------------------------------

  def evaluate(self, params, predictions_dir: str | None = None
               ) -> dict[str, dict[str, Any]]:
    """{task: {metric: value (0-100), ..., "num_examples": n}}."""
    params = self.select_params(params)
    results = {}
    for name in self.task_names:
      key = task_key(name)
      decoded = self._decode(name, params, key)
      scored = score_decoded(key, decoded)
      results[name] = scored.metrics
      if decoded.details is not None:
        self.details[name] = decoded.details
      if predictions_dir and jax.process_index() == 0:
        write_outputs(predictions_dir, self.split, key, decoded, scored)
    return results


@dataclasses.dataclass
class Scored:
  metrics: dict[str, Any]
  per_example: dict[str, np.ndarray]
  index: np.ndarray


def score_decoded(key: TaskKey, decoded: eval_heads.Decoded) -> Scored:
  """Official metrics of one language (`scorer.score_task_detailed`) and
  per-example scores; no metrics when the split has no gold."""
  task = key.scoring_task(decoded.kind)
  if decoded.labels is None:
    n = len(decoded.predictions)
    return Scored({"num_examples": n}, {}, np.arange(n))
  language = key.scoring_language
  detailed = scorer.score_task_detailed(task, {language: decoded.predictions},
                                        {language: decoded.labels})
  values = {m: v[language] for m, v in detailed.scores.items()
            if isinstance(v, dict)}
  values.update({m: v[language] for m, v in detailed.extras.items()
                 if isinstance(v, dict)})
  per_example, index = _per_example(task, language, decoded)
  values = {k: float(v) for k, v in values.items()}
  return Scored({**values, "num_examples": int(len(index))}, per_example,
                index)


def _per_example(task: str, language: str, decoded: eval_heads.Decoded):
  fmt = submission.file_format(task)
  where = f"{task} {language}"
  if decoded.kind == "pairs":
    index, scores = example_scores.bucc(decoded.labels, decoded.predictions,
                                        decoded.source_ids)
    return scores, index
  if decoded.kind == "qa":
    questions = fmt.coerce_labels(decoded.labels, where)
    scores = example_scores.qa(questions, decoded.predictions,
                               eval_heads.qa_normalizer(task, language))
  elif decoded.kind == "tags":
    labels = fmt.coerce_labels(decoded.labels, where)
    predictions = fmt.coerce_predictions(decoded.predictions, where)
    scores = example_scores.entities(labels, predictions)
    if xtreme_tasks.task_spec(task).extra is not None:
      scores.update(example_scores.token_accuracy(labels, predictions))
  else:
    scores = example_scores.accuracy(
        fmt.coerce_labels(decoded.labels, where),
        fmt.coerce_predictions(decoded.predictions, where))
  n = len(next(iter(scores.values())))
  return scores, np.arange(n)


def write_outputs(directory: str, split: str, key: TaskKey,
                  decoded: eval_heads.Decoded, scored: Scored) -> None:
  """The per-example files and, for XTREME tasks, the submission layout."""
  stem = os.path.join(directory, f"{key.name}.{split}")
  metric_names = list(scored.per_example)
  lines = ["\t".join(["index"] + metric_names)] + [
      "\t".join([str(int(i))] + [repr(float(scored.per_example[m][row]))
                                 for m in metric_names])
      for row, i in enumerate(scored.index)]
  results_io.atomic_write_text(f"{stem}.{SCORES_SUFFIX}",
                               "\n".join(lines) + "\n")
  results_io.atomic_write_text(f"{stem}.jsonl", "".join(
      json.dumps({"index": i, **ex}, ensure_ascii=False) + "\n"
      for i, ex in enumerate(decoded.examples)))
  if key.xtreme_task is None:
    return
  root = os.path.join(directory, "xtreme", split)
  task, language = key.xtreme_task, key.language
  submission.write_task_predictions(os.path.join(root, "predictions"), task,
                                    {language: decoded.predictions})
  if decoded.labels is None:
    return
  labels_root = os.path.join(root, "labels")
  if decoded.kind == "qa":
    submission.write_questions(
        submission.task_file(labels_root, task, language),
        submission.coerce_questions(decoded.labels, task))
  else:
    submission.write_task_predictions(labels_root, task,
                                      {language: decoded.labels})


def read_example_scores(path: str) -> list[tuple[int, dict[str, float]]]:
  """(example index, {metric: score}) per line of a `*.scores.tsv` file."""
  with open(path, encoding="utf-8") as f:
    header, *rows = [line.rstrip("\n").split("\t") for line in f if line
                     .strip()]
  if not header or header[0] != "index":
    raise errors.DataError(f"{path} is not a per-example score file",
                           "re-run the evaluation that wrote it")
  return [(int(r[0]), {m: float(v) for m, v in zip(header[1:], r[1:])})
          for r in rows]


class EvaluatorGroup:
  """Several evaluators (e.g. one per head of a multi-task run) as one."""

  def __init__(self, evaluators):
    self.evaluators = list(evaluators)

  @property
  def task_names(self) -> tuple[str, ...]:
    return tuple(n for e in self.evaluators for n in e.task_names)

  def evaluate(self, params, predictions_dir: str | None = None):
    results = {}
    for evaluator in self.evaluators:
      results.update(evaluator.evaluate(params, predictions_dir))
    return results
