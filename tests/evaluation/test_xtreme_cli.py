"""`xferjax xtreme-score` through add_arguments / run."""

import argparse
import json
import pathlib

import pytest

from xferjax import errors
from xferjax.evaluation import scorer
from xferjax.evaluation import xtreme_cli

MOCK = pathlib.Path(__file__).parents[1] / "fixtures" / "xtreme_mock_test_data"


def _parse(*argv):
  parser = argparse.ArgumentParser()
  xtreme_cli.add_arguments(parser)
  return parser.parse_args([str(a) for a in argv])


def test_writes_official_json_extras_and_table(tmp_path, capsys):
  out = tmp_path / "scores.json"
  args = _parse("--predictions", MOCK / "predictions", "--labels",
                MOCK / "labels", "--output", out)
  assert xtreme_cli.run(args) == 0
  expected = scorer.score_submission(MOCK / "predictions", MOCK / "labels")
  # Byte-for-byte what the official script writes: json.dump(indent=2).
  assert out.read_text() == json.dumps(expected, indent=2)
  extras = json.loads((tmp_path / "scores.extras.json").read_text())
  assert set(extras) == {"udpos"}
  assert extras["udpos"]["token_accuracy"]["en"] == 100.0
  table = capsys.readouterr().out
  assert "all_task" in table and "udpos: metric=70.22" in table
  assert "[extra, not an XTREME metric] token_accuracy=" in table


def test_errors_propagate(tmp_path):
  args = _parse("--predictions", tmp_path / "missing", "--labels",
                MOCK / "labels", "--output", tmp_path / "o.json", "--quiet")
  with pytest.raises(errors.DataError, match="does not exist"):
    xtreme_cli.run(args)


def test_seqeval_choice_and_extras_path(tmp_path, capsys):
  args = _parse("--predictions", MOCK / "predictions", "--labels",
                MOCK / "labels", "--output", tmp_path / "o.json",
                "--extras-output", tmp_path / "x" / "extra.json",
                "--seqeval", "1.2.2", "--quiet")
  assert xtreme_cli.run(args) == 0
  assert capsys.readouterr().out == ""
  scores = json.loads((tmp_path / "o.json").read_text())
  assert scores["udpos"]["avg_f1"] != 70.21746048354693
  assert (tmp_path / "x" / "extra.json").exists()
  with pytest.raises(SystemExit):
    _parse("--predictions", "p", "--labels", "l", "--output", "o",
           "--seqeval", "2.0")
