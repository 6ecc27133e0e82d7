"""Bad input ends with one clear message and a non-zero exit, no traceback.

Most cases call `cli.main` in-process (fast); one runs the installed console
script in a subprocess to prove the real entry point behaves the same.
"""

import subprocess

import pytest

from conftest import run_cli
from xferjax import cli


def _main(args, capsys):
  code = cli.main(args)
  captured = capsys.readouterr()
  return subprocess.CompletedProcess(args, code, captured.out, captured.err)

FINETUNE = ["--gin_file=models/tiny.gin", "--gin_file=runs/finetune.gin"]
LENGTHS = "--gin.TASK_FEATURE_LENGTHS={'text_a': 14, 'text_b': 7}"


def _assert_clean_error(proc, *needles):
  assert proc.returncode == 2, proc.stderr
  assert "Traceback" not in proc.stderr, proc.stderr
  error_lines = [l for l in proc.stderr.splitlines()
                 if l.startswith("xferjax: error:")]
  assert len(error_lines) == 1, proc.stderr
  for needle in needles:
    assert needle in proc.stderr, proc.stderr
  assert "fix:" in proc.stderr


@pytest.mark.parametrize("args,needles", [
    # An unknown binding (a parameter TrainRun does not have).
    (["train", *FINETUNE, "--gin.TrainRun.num_stepz=3",
      "--gin.MODEL_DIR='/tmp/x'", "--gin.TASK='synthetic_nli.en'", LENGTHS],
     ["num_stepz"]),
    # An unknown configurable.
    (["train", *FINETUNE, "--gin.NoSuchThing.x=3"], ["NoSuchThing"]),
    # A REQUIRED macro left unset.
    (["train", *FINETUNE, "--gin.TASK='synthetic_nli.en'", LENGTHS],
     ["MODEL_DIR", "--gin.MODEL_DIR="]),
    # A gin file that does not exist.
    (["train", "--gin_file=runs/no_such_file.gin"], ["no_such_file.gin"]),
])
def test_config_errors(args, needles, capsys):
  _assert_clean_error(_main(args, capsys), *needles)


def test_console_script_reports_missing_gin_file():
  _assert_clean_error(run_cli(["study", "--gin_file=nope.gin"]), "nope.gin")


def test_unknown_task_names_close_matches(tmp_path, capsys):
  proc = _main(["train", *FINETUNE, f"--gin.MODEL_DIR='{tmp_path}'",
                  "--gin.TASK='synthetic_nli.enn'", LENGTHS], capsys)
  _assert_clean_error(proc, "synthetic_nli.enn", "synthetic_nli.en")


@pytest.mark.parametrize("command", ["train", "eval", "study", "tasks"])
def test_help_for_every_command(command, capsys):
  with pytest.raises(SystemExit) as exit_info:
    cli.main([command, "--help"])
  assert exit_info.value.code == 0
  assert "usage: xferjax " + command in capsys.readouterr().out


def test_tasks_list_and_show(capsys):
  proc = _main(["tasks", "list"], capsys)
  assert proc.returncode == 0, proc.stderr
  names = proc.stdout.split()
  for lang in ("en", "syn1", "syn4"):
    assert f"synthetic_nli.{lang}" in names
  assert "synthetic_paraphrase" in names and "synthetic_mlm" in names
  proc = _main(["tasks", "show", "synthetic_nli.syn2"], capsys)
  assert proc.returncode == 0, proc.stderr
  assert "labels ['entailment', 'neutral', 'contradiction']" in proc.stdout
