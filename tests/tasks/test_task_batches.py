"""Every registered task builds; each source family yields a shaped batch."""

import gin
import pytest
import seqio

from tests.tasks import batching
from tests.tasks.fixtures import REALDATA, needs_real
from xferjax import errors
from xferjax.data import features, mixing, pipeline
from xferjax.evaluation import tasks as xtreme_table
from xferjax_tasks import common, intermediate, mixtures, xtreme
from tests.tasks.fixtures import bind_macros, env, tfds_mock  # noqa: F401


def test_every_task_has_a_head_and_a_converter_without_reading_data():
  # Registration reads nothing: no gin macro is needed for any of this.
  gin.clear_config()
  names = [n for n in seqio.TaskRegistry.names()
           if not n.startswith("synthetic")]
  assert len(names) > 450
  for name in names:
    task = seqio.get_mixture_or_task(name)
    head = features.head_of(task)
    if name.startswith("mt5."):  # retrieval twins: mT5 encoder embeddings
      assert head == ("embedding" if name.split(".")[1] in (
          "bucc2018", "tatoeba") else "text_to_text"), name
    conv = batching.converter(task, head) if head == "text_to_text" else (
        features.converter_for(task, head, {"pad": 0, "eos": 1, "cls": 3,
                                            "sep": 4, "mask": 5},
                               **(batching.SPAN_OPTIONS
                                  if head == "span" else {})))
    assert conv is not None


def test_every_xtreme_language_is_registered_in_both_styles():
  for task in xtreme.TASKS:
    for lang in xtreme_table.XTREME_TASKS[task].languages:
      assert f"{task}.{lang}" in seqio.TaskRegistry.names()
      assert common.t2t_name(f"{task}.{lang}") in seqio.TaskRegistry.names()
  cross = [n for n in seqio.TaskRegistry.names()
           if n.startswith("mlqa.") and n.count(".") == 2]
  assert len(cross) == 42
  for name in intermediate.NAMES:
    for n in (None, *intermediate.LADDER_SIZES):
      full = name if n is None else f"{name}_n{n}"
      assert full in seqio.TaskRegistry.names()
      assert common.t2t_name(full) in seqio.TaskRegistry.names()
  assert set(mixtures.MIXTURE_NAMES) >= {"intermediate_mixture",
                                         "mt5.intermediate_mixture_n16000"}


def test_unknown_language_names_the_valid_ones():
  with pytest.raises(errors.ConfigError, match="ar, bg, de"):
    xtreme.task_name("xnli", "xx")
  with pytest.raises(errors.UnknownTaskError, match="valid codes: .*zh"):
    pipeline.get_task_or_mixture("panx.xx")


# (task, split, macros to unset so TFDS is read instead of files)
FAMILIES = [
    ("anli_plus", "train", ()),            # TFDS: anli + multi_nli + snli
    ("qqp", "validation", ()),             # TFDS glue
    ("squad_v2", "train", ()),             # TFDS squad, no-answer questions
    ("hellaswag", "train", ()),            # TFDS multiple choice
    ("xnli.de", "validation", ()),         # TFDS xnli, per language
    ("pawsx.ja", "test", ()),              # TFDS paws_x_wiki
    ("xquad.de", "test", ("XQUAD_DATA_DIR",)),  # TFDS xquad
    ("tydiqa.ar", "train", ()),            # TFDS tydi_qa, split by id
    ("ccg", "train", ()),                  # files: CCGbank .auto
    ("commonsenseqa", "validation", ()),   # files: JSON lines
    ("panx.de", "validation", ()),         # files: PAN-X
    ("udpos.af", "train", ()),             # files: CoNLL-U
    ("bucc2018.de", "test", ()),           # files: BUCC sentences
    ("mlqa.de.en", "test", ()),            # files: MLQA cross-language
    ("mt5.mnli_n1000", "train", ()),       # text-to-text, ladder
    ("mt5.panx.de", "train", ()),          # mT5 NER spans format
    ("mt5.squad_v1", "validation", ("SQUAD_DATA_DIR",)),
]


@pytest.mark.parametrize("name,split,unset", FAMILIES,
                         ids=[f[0] for f in FAMILIES])
def test_source_family_yields_a_shaped_batch(name, split, unset, tfds_mock):
  batching.unset(*unset)
  task, head, arrays = batching.load(name, split)
  batching.check_contract(head, arrays, task)


@needs_real
@pytest.mark.parametrize("name,split", [("tatoeba.zh", "test"),
                                        ("cosmosqa", "validation"),
                                        ("udpos.zh", "validation")])
def test_real_file_slices_yield_shaped_batches(name, split):
  gin.bind_parameter("%UDPOS_DATA_DIR", str(REALDATA))
  task, head, arrays = batching.load(name, split)
  batching.check_contract(head, arrays, task)
  if name == "tatoeba.zh":
    assert len(arrays["index"]) == 100  # every aligned pair, in order
  if name == "cosmosqa":
    assert arrays["input_ids"].shape[:2] == (50, 4)


def test_t2t_mixture_and_multi_head_mixture(tfds_mock):
  gin.bind_parameter("%SQUAD_DATA_DIR", None)
  gin.bind_parameter("%SQUAD_V2_DATA_DIR", None)
  gin.bind_parameter("%COSMOSQA_DATA_DIR", None)
  mixture = seqio.get_mixture_or_task("mt5.intermediate_mixture_n1000")
  ds = mixture.get_dataset({"inputs": 64, "targets": 16}, split="train",
                           shuffle=False, num_epochs=1)
  conv = seqio.EncDecFeatureConverter(pack=False)
  batch = next(conv(ds, {"inputs": 64, "targets": 16}).batch(8)
               .as_numpy_iterator())
  assert batch["encoder_input_tokens"].shape == (8, 64)
  multi = pipeline.get_task_or_mixture("intermediate_mixture")
  assert isinstance(multi, mixing.MultiTaskMixture)
  with pytest.raises(errors.ConfigError, match="MultiTaskBatcher"):
    pipeline.load_examples("intermediate_mixture", "train", {}, conv)
