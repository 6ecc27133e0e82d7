"""`xferjax study`: run a study's grid, one cell, or collect its results.

  xferjax study --gin_file=demo.gin              run every cell, then report
  xferjax study --gin_file=S --list              the cells and their cost
  xferjax study --gin_file=S --cell K            run cell K only (parallel
                                                 processes are safe)
  xferjax study --gin_file=S --collect           tables + report from disk

Each model preset is a gin file; a cell's configuration is the study's gin
files plus its preset (plus --gin overrides, which win).
"""

import os

from xferjax import errors
from xferjax.commands import gin_flags

HELP = "run the study grid from a gin file (--list, --cell K, --collect)"


def add_arguments(parser):
  gin_flags.add_arguments(parser)
  group = parser.add_mutually_exclusive_group()
  group.add_argument("--list", action="store_true",
                     help="print the cells with their estimated cost")
  group.add_argument("--cell", type=int, default=None,
                     help="run only cell K (see --list)")
  group.add_argument("--collect", action="store_true",
                     help="gather finished cells into the results tables "
                     "and report; runs nothing")


def _preset_setup(args, preset: str):
  """Parses the study's gin files plus one model preset: (family, config,
  operative config text)."""
  from xferjax import config
  from xferjax.study import pipeline

  config.parse(list(args.gin_file) + [preset], args.gin_bindings,
               args.gin_search_paths)
  family, cfg = pipeline.model_config()
  return family, cfg, config.operative_config()


def enable_compilation_cache() -> str | None:
  """Persists XLA compilations under the xferjax cache dir, so phases with
  the same shapes (most of a study's) compile once. Leaves a cache the
  user configured alone. Returns the directory in use."""
  import jax

  from xferjax.data import vocab

  if jax.config.jax_compilation_cache_dir:
    return jax.config.jax_compilation_cache_dir
  path = os.path.join(vocab.default_cache_dir(), "jax_compilation_cache")
  jax.config.update("jax_compilation_cache_dir", path)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  return path


def report_options(study):
  from xferjax.study import analysis
  return analysis.Options(threshold=study.threshold, n_boot=study.n_boot)


def run(args) -> int:
  if args.list:
    # The cost listing uses the planner; its gin configurables must exist
    # before gin parses (and locks) the config.
    import xferjax.planning  # noqa: F401  pylint: disable=unused-import
  gin_flags.setup(args)
  from xferjax import partitioning
  from xferjax.study import cost, pipeline, report, results_store

  study = pipeline.Study()
  study.validate(for_run=not (args.list or args.collect))
  cells = pipeline.expand_cells(study)
  if args.cell is not None and not 0 <= args.cell < len(cells):
    raise errors.ConfigError(
        f"there is no cell {args.cell}: the grid has {len(cells)} cells "
        f"(0..{len(cells) - 1})", "see `--list`")
  presets = list(dict.fromkeys(c.preset_file for c in cells))
  models = {pipeline.preset_name(p): _preset_setup(args, p) for p in presets}
  params = {name: pipeline.count_parameters(family, cfg)
            for name, (family, cfg, _) in models.items()}

  if args.list:
    print(cost.listing(study, cells, params, {
        name: (family, cfg) for name, (family, cfg, _) in models.items()}))
    return 0

  selected = cells if args.cell is None else [cells[args.cell]]
  if not args.collect:
    if study.compilation_cache:
      enable_compilation_cache()
    partitioner = partitioning.create_partitioner()
    for preset in presets:
      todo = [c for c in selected if c.preset_file == preset]
      if not todo:
        continue
      _, cfg, config_text = _preset_setup(args, preset)
      for cell in todo:
        pipeline.run_cell(study, cell, cfg, partitioner, config_text)
    if args.cell is not None:
      print(f"[xferjax] cell {args.cell} done; `--collect` builds the report "
            "when every cell has run")
      return 0

  import jax
  if jax.process_index() != 0:  # multi-host: process 0 writes the report
    return 0
  results, examples, missing = results_store.collect(study, params)
  if missing:
    print("[xferjax] not finished yet:\n  " + "\n  ".join(missing))
  if results.empty:
    raise errors.DataError(
        f"no finished cells under {study.output_dir}",
        "run the study (or some `--cell K`) first")
  os.makedirs(study.output_dir, exist_ok=True)
  results_store.write_tables(study.output_dir, results, examples)
  options = report_options(study)
  report.save_settings(study.output_dir, options, study.description)
  paths = report.write_report(study.output_dir, results, examples, options,
                              study.description)
  print(f"[xferjax] report: {paths['md']} and {paths['html']}")
  return 0
