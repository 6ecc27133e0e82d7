"""`xferjax convert`: pretrained checkpoints from and to Hugging Face.

  xferjax convert from-hf --model xlm-roberta-large --out /ckpt/xlmr_large
  xferjax convert to-hf --checkpoint /ckpt/xlmr_large --out /hf/xlmr_large

from-hf writes a run directory that training initialises from
(`--gin_file=OUT/<preset>.gin --gin.INIT_FROM="'OUT'"`, or
`Study.pretrained_dirs`); see docs/convert.md.
"""

from __future__ import annotations

HELP = "import Hugging Face XLM-R / mT5 checkpoints, or export to them"


def _output_arguments(p, sentencepiece_help: str) -> None:
  p.add_argument("--out", required=True, help="the directory to create")
  p.add_argument("--sentencepiece", default=None, help=sentencepiece_help)
  p.add_argument("--overwrite", action="store_true",
                 help="replace OUT if it exists")


def add_arguments(parser):
  sub = parser.add_subparsers(dest="direction", required=True)
  p = sub.add_parser("from-hf", help="Hugging Face model -> xferjax run "
                     "directory (checkpoint, gin preset, SentencePiece model)")
  p.add_argument("--model", required=True,
                 help="a local Hugging Face model directory or a Hub id "
                 "(e.g. xlm-roberta-base, google/mt5-small)")
  _output_arguments(p, "the SentencePiece model, if not in the model "
                    "directory")
  p.add_argument("--preset_name", default=None,
                 help="name of the gin preset written into OUT (default: the "
                 "shipped preset with the same shapes, e.g. xlmr_large)")
  p.add_argument("--scan_layers", default=None,
                 type=lambda s: s.lower() in ("1", "true", "yes"),
                 help="true/false: store the layers scanned or unrolled "
                 "(default: as the matching preset trains them)")
  p.set_defaults(convert_fn=_from_hf)

  p = sub.add_parser("to-hf", help="xferjax run directory -> Hugging Face "
                     "model directory (from_pretrained loads it)")
  p.add_argument("--checkpoint", required=True,
                 help="a directory written by `convert from-hf` or by a "
                 "training run (its latest checkpoint is exported)")
  _output_arguments(p, "the SentencePiece model to ship (default: the one "
                    "in the checkpoint directory)")
  p.add_argument("--dtype", default=None, choices=("F32", "BF16", "F16"),
                 help="tensor dtype (default: as imported, else F32)")
  p.add_argument("--max_shard_gb", type=float, default=2.0,
                 help="largest safetensors shard, in GiB")
  p.set_defaults(convert_fn=_to_hf)


def _from_hf(args) -> int:
  from xferjax.convert import from_hf
  done = from_hf.convert(args.model, args.out, preset_name=args.preset_name,
                         scan_layers=args.scan_layers,
                         sentencepiece=args.sentencepiece,
                         overwrite=args.overwrite)
  print(f"[xferjax] {done.out}: {done.num_params:,} parameters from "
        f"{done.num_tensors} tensors, preset {done.preset}")
  print(f"  train from it: --gin_file={done.preset_file} "
        f"--gin.INIT_FROM=\"'{done.out}'\"")
  return 0


def _to_hf(args) -> int:
  from xferjax.convert import to_hf
  done = to_hf.export(args.checkpoint, args.out, dtype=args.dtype,
                      sentencepiece=args.sentencepiece,
                      overwrite=args.overwrite,
                      max_shard_bytes=int(args.max_shard_gb * 2**30))
  print(f"[xferjax] {done.out}: {done.architecture}, {done.num_tensors} "
        f"tensors in {len(done.files)} file(s)")
  return 0


def run(args) -> int:
  return args.convert_fn(args)
