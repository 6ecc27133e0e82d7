"""A user registers a task and adds it to a mixture in their own module;
`xferjax tasks preview` shows its decoded examples."""

import importlib
import sys
import textwrap

import pytest

from tests.conftest import run_cli
from xferjax import config
from xferjax.commands import tasks as tasks_command
from xferjax.data import mixing, pipeline
from tests.tasks import batching
from tests.tasks.fixtures import bind_macros, env, tfds_mock  # noqa: F401

# The ~15 lines docs/tasks.md shows (data dir comes from a gin macro).
USER_MODULE = '''
import seqio, tensorflow as tf
from xferjax.data import features, mixing, vocab
from xferjax_tasks import common, mixtures

def dataset_fn(split, shuffle_files, seed=None):
  path = f"{vocab.gin_macro_value('MY_DATA_DIR')}/{split}.tsv"
  rows = tf.data.experimental.CsvDataset(path, [tf.string, tf.int32],
                                         field_delim="\\t")
  return rows.map(lambda text, label: {"text_a": text, "label": label})

common.add_task(
    "my_sentiment",
    source=seqio.FunctionDataSource(dataset_fn, splits=["train"]),
    preprocessors=[seqio.preprocessors.tokenize],
    output_features={
        "text_a": seqio.Feature(vocab.xlmr_vocabulary(), add_eos=False),
        "label": features.label_feature(["negative", "positive"])})
mixing.add_multitask("my_mixture", {**mixtures.sizes(), "my_sentiment": 2})
'''


@pytest.fixture(scope="module")
def user_dir(tmp_path_factory):
  root = tmp_path_factory.mktemp("user")
  name = f"my_tasks_{id(root)}"
  (root / f"{name}.py").write_text(USER_MODULE)
  (root / "data").mkdir()
  (root / "data" / "train.tsv").write_text(
      "a question answer\t1\nparaphrase premise\t0\n")
  sys.path.insert(0, str(root))
  yield root, name
  sys.path.remove(str(root))


def test_user_module_registers_a_task_and_a_mixture(user_dir, env):
  root, name = user_dir
  assert len(USER_MODULE.strip().splitlines()) <= 20
  gin_file = root / "mine.gin"
  gin_file.write_text(f"import {name}\nMY_DATA_DIR = '{root / 'data'}'\n"
                      f"XLMR_VOCAB_PATH = '{env['XLMR_VOCAB_PATH']}'\n")
  config.parse([str(gin_file)], [])  # gin `import` picks the module up
  assert name in sys.modules
  importlib.reload(sys.modules[name])
  task, head, arrays = batching.load("my_sentiment", "train")
  assert head == "classification"
  batching.check_contract(head, arrays, task)
  mixture = pipeline.get_task_or_mixture("my_mixture")
  assert isinstance(mixture, mixing.MultiTaskMixture)
  assert "my_sentiment" in mixture.probabilities()
  assert any("my_sentiment" in line
             for line in tasks_command.describe("my_mixture"))


def test_cli_preview_decodes_user_task_examples(user_dir, env):
  root, name = user_dir
  result = run_cli(
      ["tasks", "preview", "my_sentiment", "--split", "train", "--n", "2",
       "--module", name, f"--gin.MY_DATA_DIR='{root / 'data'}'",
       f"--gin.XLMR_VOCAB_PATH='{env['XLMR_VOCAB_PATH']}'"],
      env={"PYTHONPATH": str(root)})
  assert result.returncode == 0, result.stderr
  out = result.stdout
  assert "text_a: 'a question answer'" in out
  assert "label: positive" in out and "label: negative" in out
