"""`xferjax report RESULTS_DIR`: the analysis and report from a results table.

Reads RESULTS_DIR/results.{parquet,csv} (and examples.* when present, for
the bootstrap over evaluation examples), writes report.md, report.html and
the figures (PNG + SVG). Settings default to what `xferjax study --collect`
used (report_settings.json); flags override them. Needs no gin file and
runs no model, so a results table copied off a pod can be re-analysed
anywhere.
"""

from __future__ import annotations

HELP = "analyse a study's results table and write report.md / report.html"


def add_arguments(parser):
  parser.add_argument("results_dir",
                      help="directory with results.csv or results.parquet "
                      "(a study's output_dir)")
  parser.add_argument("--output_dir", default=None,
                      help="where the report goes (default: results_dir)")
  parser.add_argument("--threshold", type=float, default=None,
                      help="model size (parameters) the test splits at "
                      "(default: the study's, else 1e9)")
  parser.add_argument("--n_boot", type=int, default=None,
                      help="bootstrap resamples (default: the study's, else "
                      "2000)")
  parser.add_argument("--seed", type=int, default=0,
                      help="seed of the bootstrap")
  parser.add_argument("--confidence", type=float, default=0.95)
  parser.add_argument("--split", default=None,
                      help="analyse this split (default: test, then dev)")
  parser.add_argument("--exclude_language", action="append", default=[],
                      help="leave a language out of every average "
                      "(repeatable)")


def run(args) -> int:
  from xferjax.study import analysis, report, tables

  results, examples = tables.load_tables(args.results_dir)
  saved = report.load_settings(args.results_dir)
  defaults = analysis.Options()
  options = analysis.Options(
      threshold=(args.threshold if args.threshold is not None else
                 saved.get("threshold", defaults.threshold)),
      n_boot=(args.n_boot if args.n_boot is not None else
              saved.get("n_boot", defaults.n_boot)),
      seed=args.seed, confidence=args.confidence, split=args.split,
      exclude_languages=tuple(args.exclude_language))
  paths = report.write_report(args.output_dir or args.results_dir, results,
                              examples, options, saved.get("note", ""))
  print(f"[xferjax] report: {paths['md']} and {paths['html']}")
  return 0
