"""Will this model train on that topology? The memory planner behind
`xferjax plan`.

It builds the trainer's own sharded train step (`train.steps` with the
optimizer of `train.optimizer`, the trainer's parameter and optimizer-state
shardings) from abstract shapes only, lowers and compiles it for the
topology's device count on fake CPU devices, and reads what XLA's buffer
assignment needs per device. Nothing of the model is allocated, so a 13B
model plans on a laptop in well under a minute.

Per device it reports parameters and optimizer state (exact: shapes through
their shardings), the step's temporaries (activations kept for the backward
pass, gradients, logits chunks: `temp` of XLA's memory analysis), the peak
(arguments + outputs - donated + temporaries), FLOPs per step, and whether
the peak fits the chip's HBM. When it does not, it proposes a change that
fits (more gradient-accumulation micro-batches, Adafactor) and checks that
proposal with one more compile.

CPU compilation is a model of the accelerator's: fusion and layouts differ
in detail, so treat numbers within ~10% of the HBM as a close call.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import gin
import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from xferjax import errors, partitioning

GIB = 1024 ** 3


@gin.configurable
@dataclasses.dataclass(frozen=True)
class Topology:
  """A slice of accelerators; files in gin_configs/topologies/ bind these
  fields and the matching `create_partitioner` mesh and rules."""

  name: str = "local"
  chip: str = ""
  num_devices: int = 1
  hbm_gib: float = 16.0


@gin.configurable
@dataclasses.dataclass(frozen=True)
class PlanSettings:
  """The training shape to plan for (the trainer's TrainRun fields)."""

  head: str | None = None  # default: mlm (encoder), text_to_text (mT5)
  num_labels: int = 3
  batch_size: int = 256
  length: int = 512
  target_length: int = 128  # text_to_text decoder length
  optimizer: str = "adamw"
  grad_accum_steps: int = 1


def shard_bytes(abstract: Any, shardings: Any) -> int:
  """Bytes one device holds of a tree of ShapeDtypeStructs."""
  leaves = jax.tree.leaves(abstract)
  sh = jax.tree.leaves(shardings, is_leaf=lambda x: isinstance(
      x, jax.sharding.Sharding))
  return int(sum(math.prod(s.shard_shape(a.shape)) * a.dtype.itemsize
                 for a, s in zip(leaves, sh)))


def _abstract(tree, shardings):
  return jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype,
                                                        sharding=s),
                      tree, shardings)


def compile_train_step(model, partitioner, settings: PlanSettings,
                       seed: int = 0):
  """(compiled step, memory facts) of the trainer's step, all abstract."""
  from xferjax.models import api
  from xferjax.train import optimizer as optimizer_lib
  from xferjax.train import steps, trainer

  partitioning.check_batch_divisible(settings.batch_size, partitioner)
  micro = settings.batch_size // settings.grad_accum_steps
  if settings.batch_size % settings.grad_accum_steps or (
      micro % partitioner.data_parallel_size):
    raise errors.ShapeError(
        f"micro-batch {settings.batch_size} / {settings.grad_accum_steps} "
        f"does not split over the {partitioner.data_parallel_size} "
        "data-parallel shards", "make batch_size a multiple of "
        f"grad_accum_steps x {partitioner.data_parallel_size}")
  prepared = trainer.prepare_model(model, partitioner)
  optimizer = optimizer_lib.make_optimizer(
      learning_rate=1e-4, total_steps=1000, name=settings.optimizer)
  state_shardings = trainer.state_shardings_of(prepared, optimizer)
  params = nn.meta.unbox(prepared.boxed_params)
  opt_state = jax.eval_shape(optimizer.init, params)
  state = steps.TrainState(jax.ShapeDtypeStruct((), jnp.int32), params,
                           opt_state)
  batch = api.batch_shapes(model, settings.batch_size, settings.length,
                           settings.target_length)
  batch_shardings = {k: partitioner.batch_sharding(len(v.shape))
                     for k, v in batch.items()}
  step = jax.jit(
      steps.make_train_step(model, optimizer, jax.random.PRNGKey(seed),
                            settings.grad_accum_steps),
      in_shardings=(state_shardings, batch_shardings),
      out_shardings=(state_shardings, None), donate_argnums=0)
  with partitioner.context():
    compiled = step.lower(_abstract(state, state_shardings),
                          _abstract(batch, batch_shardings)).compile()
  facts = {
      "params": shard_bytes(params, state_shardings.params),
      "optimizer_state": shard_bytes(opt_state, state_shardings.opt_state),
      "batch": shard_bytes(batch, batch_shardings),
  }
  return compiled, facts


def _size(tree) -> int:
  return int(sum(math.prod(x.shape) for x in jax.tree.leaves(tree)))


def model_flops(model, settings: PlanSettings) -> float:
  """Training FLOPs of one step: 6 per weight and token that the weight
  multiplies (forward 2, backward 4), plus attention scores; a remat policy
  other than 'none' adds up to one more forward (2 per weight and token).

  XLA's cost analysis counts a scanned layer once, not once per layer, so
  this count is the one to use for step-time and chip-hour estimates.
  """
  from xferjax.models import api
  cfg = model.cfg
  params = nn.meta.unbox(api.abstract_params(model))
  b = settings.batch_size
  per_token = 6 + (2 if cfg.remat_policy != "none" else 0)
  if settings.head == "text_to_text":
    enc, dec = b * settings.length, b * settings.target_length
    matmuls = (_size(params["encoder"]) * enc +
               (_size(params["decoder"]) + _size(params["lm_head"])) * dec)
    width = cfg.num_heads * cfg.head_dim
    scores = 4 * width * b * (
        cfg.num_encoder_layers * settings.length ** 2 +
        cfg.num_decoder_layers * (settings.target_length ** 2 +
                                  settings.target_length * settings.length))
  else:
    tokens = b * settings.length * (settings.num_labels
                                    if settings.head == "multiple_choice"
                                    else 1)
    encoder = dict(params["encoder"])
    embed = _size(encoder.pop("token_embed"))
    weights = _size(encoder) + _size(params.get("head", {}))
    if settings.head == "mlm":  # the tied decoder multiplies the embedding
      weights += embed
    matmuls = weights * tokens
    scores = 4 * cfg.d_model * cfg.num_layers * tokens * settings.length
  # scores are forward FLOPs; training costs 3x (4x with remat) of them.
  return float(per_token * matmuls + per_token / 2 * scores)


def memory_report(compiled, facts: dict[str, int], hbm_gib: float,
                  num_devices: int) -> dict[str, Any]:
  mem = compiled.memory_analysis()
  peak = (mem.argument_size_in_bytes + mem.output_size_in_bytes -
          mem.alias_size_in_bytes + mem.temp_size_in_bytes)
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  flops = float(cost.get("flops", 0.0)) if cost else 0.0
  gib = lambda b: round(b / GIB, 3)
  return {
      "per_device_gib": {
          "params": gib(facts["params"]),
          "optimizer_state": gib(facts["optimizer_state"]),
          "batch": gib(facts["batch"]),
          "activations_and_temp": gib(mem.temp_size_in_bytes),
          "total": gib(peak),
      },
      "per_device_bytes": {**facts, "arguments": mem.argument_size_in_bytes,
                           "outputs": mem.output_size_in_bytes,
                           "donated": mem.alias_size_in_bytes,
                           "temp": mem.temp_size_in_bytes, "total": peak},
      "xla_flops_per_device": flops,  # scanned loops counted once
      "hbm_gib": hbm_gib,
      "fits": peak <= hbm_gib * GIB,
      "headroom_gib": gib(hbm_gib * GIB - peak),
  }


def _accumulation_for(report: dict, settings: PlanSettings, hbm: float,
                      shards: int) -> int | None:
  """Micro-batches that bring temporaries (which scale with the micro-batch)
  under the HBM left after the fixed state, or None if none can."""
  b = report["per_device_bytes"]
  fixed = b["total"] - b["temp"]
  room = hbm * GIB - fixed
  if room <= 0:
    return None
  k = settings.grad_accum_steps
  while k * 2 <= settings.batch_size // shards and (
      b["temp"] * settings.grad_accum_steps / k > room):
    k *= 2
  if settings.batch_size % (k * shards):
    return None
  return k if k != settings.grad_accum_steps else None


def plan(family: str, config: Any, topology: Topology,
         partitioner: partitioning.Partitioner,
         settings: PlanSettings) -> dict[str, Any]:
  """The report `xferjax plan` prints (see the module docstring)."""
  from xferjax.models import api
  head = settings.head or ("mlm" if family == "encoder" else "text_to_text")
  settings = dataclasses.replace(settings, head=head)
  model = api.build_model(head, settings.num_labels, family=family,
                          config=config)
  compiled, facts = compile_train_step(model, partitioner, settings)
  report = {
      "model": {"family": family, "head": head,
                "parameters": api.count_params(model),
                **{k: v for k, v in dataclasses.asdict(config).items()
                   if k in ("d_model", "num_layers", "num_encoder_layers",
                            "vocab_size", "scan_layers", "remat_policy",
                            "dtype")}},
      "topology": dataclasses.asdict(topology),
      "mesh": dict(partitioner.mesh.shape),
      "rules": partitioning.rule_set_name(partitioner.rules),
      "settings": dataclasses.asdict(settings),
      **memory_report(compiled, facts, topology.hbm_gib,
                      topology.num_devices),
  }
  flops = model_flops(model, settings)
  report["flops_per_step"] = {"total": flops,
                              "per_device": flops / topology.num_devices}
  if not report["fits"]:
    report["suggestion"] = suggest(model, partitioner, settings, topology,
                                   report)
  return report


def suggest(model, partitioner, settings, topology, report) -> dict:
  """A change that fits, checked by compiling it; or what to change."""
  shards = partitioner.data_parallel_size
  tries = []
  k = _accumulation_for(report, settings, topology.hbm_gib, shards)
  if k:
    tries.append(dataclasses.replace(settings, grad_accum_steps=k))
  if settings.optimizer != "adafactor":
    tries.append(dataclasses.replace(settings, optimizer="adafactor"))
  for candidate in tries:
    compiled, facts = compile_train_step(model, partitioner, candidate)
    checked = memory_report(compiled, facts, topology.hbm_gib,
                            topology.num_devices)
    if checked["fits"]:
      changed = {f: getattr(candidate, f) for f in ("grad_accum_steps",
                                                    "optimizer")
                 if getattr(candidate, f) != getattr(settings, f)}
      return {"change": changed, "total_gib":
              checked["per_device_gib"]["total"], "checked": True}
  need = report["per_device_bytes"]["total"] / (topology.hbm_gib * GIB)
  return {"change": {"devices": f"about {math.ceil(need * topology.num_devices)}"
                     " or more in the fsdp axis (a larger slice)",
                     "remat_policy": "full" if getattr(
                         model.cfg, "remat_policy", "full") != "full" else
                     model.cfg.remat_policy},
          "checked": False}


def format_report(report: dict) -> str:
  """The human-readable form of a plan."""
  m, t, g = report["model"], report["topology"], report["per_device_gib"]
  lines = [
      f"model      {m['family']} / {m['head']}: {m['parameters'] / 1e9:.3f}B "
      "parameters",
      f"topology   {t['name']} ({t['chip'] or 'devices'}): "
      f"{t['num_devices']} devices x {t['hbm_gib']} GiB HBM",
      f"mesh       {report['mesh']}  rules {report['rules']}",
      f"step       batch {report['settings']['batch_size']} x length "
      f"{report['settings']['length']}, {report['settings']['optimizer']}, "
      f"grad_accum_steps {report['settings']['grad_accum_steps']}",
      "per device:",
      f"  parameters            {g['params']:10.3f} GiB",
      f"  optimizer state       {g['optimizer_state']:10.3f} GiB",
      f"  batch                 {g['batch']:10.3f} GiB",
      f"  activations + temp    {g['activations_and_temp']:10.3f} GiB",
      f"  total (peak)          {g['total']:10.3f} GiB of {report['hbm_gib']}",
      f"FLOPs/step {report['flops_per_step']['total']:.3e} (model) "
      f"({report['flops_per_step']['per_device']:.3e} per device)",
      f"fits       {'yes' if report['fits'] else 'NO'} "
      f"(headroom {report['headroom_gib']:.2f} GiB)",
  ]
  if "suggestion" in report:
    s = report["suggestion"]
    lines.append(f"suggestion {s['change']}" + (
        f" -> {s['total_gib']:.3f} GiB per device (compiled and checked)"
        if s.get("checked") else " (not checked)"))
  return "\n".join(lines)
