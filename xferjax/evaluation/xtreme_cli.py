"""`xferjax xtreme-score`: score a submission folder like the official scorer.

Writes OUT.json with the official keys, nesting and 0-100 values (byte for
byte what `evaluate.py --xtreme_version xtreme` writes: `json.dump(indent=2)`,
no trailing newline), prints a readable table, and writes our extra metrics
(UDPOS token accuracy) to a separate file so OUT.json stays official.
"""

from __future__ import annotations

import argparse
import json
import os

from xferjax.evaluation import metrics
from xferjax.evaluation import scorer


def add_arguments(parser: argparse.ArgumentParser) -> None:
  parser.add_argument(
      "--predictions", required=True, metavar="PRED_DIR",
      help="submission folder: one subfolder per task, test-{lang}.tsv/json")
  parser.add_argument("--labels", required=True, metavar="LABEL_DIR",
                      help="gold labels in the same layout")
  parser.add_argument("--output", required=True, metavar="OUT.json",
                      help="where to write the official-format scores")
  parser.add_argument(
      "--extras-output", default=None, metavar="EXTRAS.json",
      help="where to write extra metrics that are not XTREME's (UDPOS token "
      "accuracy); default: OUT.extras.json next to --output")
  parser.add_argument(
      "--seqeval", default=metrics.DEFAULT_SEQEVAL,
      choices=sorted(metrics.SEQEVAL_BEHAVIOURS),
      help="seqeval behaviour for tag F1: '0.0.12' reproduces XTREME's "
      "published figures (default); '1.2.2' matches evaluate.py run with "
      "today's seqeval (differs on UDPOS only)")
  parser.add_argument("--quiet", action="store_true",
                      help="do not print the table")


def _extras_path(output: str) -> str:
  stem, _ = os.path.splitext(output)
  return stem + ".extras.json"


def _write_json(path: str, value) -> None:
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, "w", encoding="utf-8") as f:
    json.dump(value, f, indent=2)


def run(args: argparse.Namespace) -> int:
  """Scores, writes OUT.json (+ extras), prints the table. Errors propagate."""
  report = scorer.evaluate_submission(args.predictions, args.labels,
                                      seqeval=args.seqeval)
  _write_json(args.output, report.official)
  extras_output = args.extras_output or _extras_path(args.output)
  if report.extras:
    _write_json(extras_output, report.extras)
  if not args.quiet:
    print(scorer.format_report(report))
    print(f"\nwrote {args.output}")
    if report.extras:
      print(f"wrote {extras_output} (extra metrics, not part of XTREME)")
  return 0
