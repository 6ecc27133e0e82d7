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
  """Parses the study's gin files plus one model preset."""
  from xferjax import config
  from xferjax.models.encoder import EncoderConfig

  config.parse(list(args.gin_file) + [preset], args.gin_bindings,
               args.gin_search_paths)
  return EncoderConfig(), config.operative_config()


def run(args) -> int:
  gin_flags.setup(args)
  from xferjax import partitioning
  from xferjax.study import pipeline, report, results_store

  study = pipeline.Study()
  study.validate()
  cells = pipeline.expand_cells(study)
  if args.cell is not None and not 0 <= args.cell < len(cells):
    raise errors.ConfigError(
        f"there is no cell {args.cell}: the grid has {len(cells)} cells "
        f"(0..{len(cells) - 1})", "see `--list`")
  presets = list(dict.fromkeys(c.preset_file for c in cells))
  models = {}
  for preset in presets:
    models[pipeline.preset_name(preset)] = _preset_setup(args, preset)
  params = {name: pipeline.count_parameters(cfg)
            for name, (cfg, _) in models.items()}

  if args.list:
    print(f"{'cell':>4}  {'model':<16} {'intermediate':<28} {'seed':>4}  "
          f"{'train PFLOPs':>12}")
    for cell in cells:
      flops = pipeline.estimated_train_flops(study, cell, params[cell.model])
      inter = cell.condition
      print(f"{cell.index:>4}  {cell.model:<16} {inter:<28} {cell.seed:>4}  "
            f"{flops / 1e15:>12.4f}")
    print(f"{len(cells)} cells; cost = 6 x params x trained tokens "
          "(shared phases counted in each cell that needs them)")
    return 0

  selected = cells if args.cell is None else [cells[args.cell]]
  if not args.collect:
    partitioner = partitioning.create_partitioner()
    for preset in presets:
      todo = [c for c in selected if c.preset_file == preset]
      if not todo:
        continue
      cfg, config_text = _preset_setup(args, preset)
      for cell in todo:
        pipeline.run_cell(study, cell, cfg, partitioner, config_text)
    if args.cell is not None:
      print(f"[xferjax] cell {args.cell} done; `--collect` builds the report "
            "when every cell has run")
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
  report.write_report(study, results, examples)
  print(f"[xferjax] report: {os.path.join(study.output_dir, 'report.md')}")
  return 0
