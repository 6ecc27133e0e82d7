"""Trains a tiny model for a few steps on N (fake CPU) devices; prints losses.

Run as a subprocess: XLA_FLAGS must be set before jax is imported, so the
device count cannot change inside one pytest process.

  python tests/multidevice_train.py DEVICES DATA FSDP TENSOR RULES OUT_DIR
"""

import json
import os
import sys

devices, data, fsdp, tensor = (int(x) for x in sys.argv[1:5])
rules_name, out_dir = sys.argv[5], sys.argv[6]
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           f" --xla_force_host_platform_device_count={devices}")

import jax  # noqa: E402

import xferjax_tasks  # noqa: E402,F401
from xferjax import partitioning  # noqa: E402
from xferjax.models.encoder import EncoderConfig  # noqa: E402
from xferjax.train.trainer import TrainRun, run_training  # noqa: E402

assert jax.device_count() == devices, jax.devices()
cfg = EncoderConfig(vocab_size=256, d_model=32, num_layers=2, num_heads=4,
                    d_ff=64, max_len=32, dropout_rate=0.1)
partitioner = partitioning.create_partitioner(
    data=data, fsdp=fsdp, tensor=tensor,
    rules=getattr(partitioning, rules_name))
losses = {}
for name, run in {
    "mlm": TrainRun(task="synthetic_mlm", head="mlm",
                    task_feature_lengths={"text": 14}),
    "classification": TrainRun(task="synthetic_nli.en",
                               task_feature_lengths={"text_a": 14,
                                                     "text_b": 7}),
}.items():
  model_dir = os.path.join(out_dir, name)
  run = TrainRun(**{**run.__dict__, "model_dir": model_dir, "num_steps": 6,
                    "batch_size": 8, "learning_rate": 1e-3, "log_every": 1,
                    "seed": 3})
  run_training(run, cfg, partitioner)
  with open(os.path.join(model_dir, "metrics.jsonl")) as f:
    losses[name] = [json.loads(l)["loss"] for l in f
                    if json.loads(l)["split"] == "train"]
print("LOSSES=" + json.dumps(losses))
