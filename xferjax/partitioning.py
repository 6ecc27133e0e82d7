"""Device mesh, logical axis rules and the shardings derived from them.

Why logical axes: the model code names what each array dimension *means*
(`batch`, `length`, `embed`, `mlp`, `heads`, `kv`, `vocab`, `layers`), and a
small table of rules, set in gin, says which mesh axis (if any) each meaning is
split over. The same model then runs on one CPU, one GPU or a TPU pod by
changing the rules and the mesh shape, never the model.

The mesh always has three named axes (t5x/MaxText convention):

  data    pure data parallelism: batch is split, parameters are replicated.
  fsdp    fully sharded data parallelism: batch is split *and* parameters and
          optimizer state are split along their `embed` dimension (ZeRO-3).
  tensor  tensor (model) parallelism: `mlp`, `heads` and `vocab` are split;
          activations are all-reduced inside each layer.

A rule set is a sequence of `(logical_name, mesh_axis_or_axes_or_None)`. The
first rule whose mesh axes are all still free for a given array wins (flax's
`logical_to_mesh_axes` semantics), so a rule list may name fallbacks.

Rule sets shipped here (select one in gin with
`create_partitioner.rules = %xferjax.partitioning.FSDP_RULES`; the
topologies in gin_configs/topologies/ do):

  DATA_PARALLEL_RULES   batch over (data, fsdp); every parameter replicated.
  FSDP_RULES            + `embed` over fsdp: parameters sharded ZeRO-3 style.
  DATA_TENSOR_RULES     batch over (data, fsdp), `mlp`/`heads`/`vocab` over
                        tensor; parameters replicated across data (Megatron).
  FSDP_TENSOR_RULES     + `embed` over fsdp as well (the default).

The same logical name serves parameters and activations. For an activation
`[batch, length, embed]` the `batch` rule comes first and takes `fsdp`, so
`embed` stays whole there (flax's first-free-axis semantics): activations
are split by batch, parameters by `embed`, as ZeRO-3 wants. Parameters of a
scanned stack carry a leading `layers` axis, never split.

Axes that a rule maps to a mesh axis of size 1 are simply not split, so the
default rules are valid on a single device. The reverse is an error: a mesh
axis larger than 1 that no rule uses would only repeat the same work on its
devices (`create_partitioner` says so, naming the axis).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import gin
import jax
import numpy as np
from flax import linen as nn
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from xferjax import errors

MESH_AXES = ("data", "fsdp", "tensor")
# Logical names used for the batch dimension of inputs and activations.
BATCH_AXES = ("data", "fsdp")

LogicalRules = Sequence[tuple[str, Any]]

# Names used by the models; every rule set must say something about each of
# them (None = replicate), so a typo in a model or a rule is caught early.
LOGICAL_AXES = ("batch", "length", "embed", "mlp", "heads", "kv", "vocab",
                "layers", "classes", "max_len", "token_types",
                "relpos_buckets")

DATA_PARALLEL_RULES: LogicalRules = (
    ("batch", BATCH_AXES),
    ("length", None),
    ("embed", None),
    ("mlp", None),
    ("heads", None),
    ("kv", None),
    ("vocab", None),
    ("layers", None),
    ("classes", None),
    ("max_len", None),
    ("token_types", None),
    ("relpos_buckets", None),
)

FSDP_RULES: LogicalRules = (
    ("batch", BATCH_AXES),
    ("length", None),
    ("embed", "fsdp"),
    ("mlp", None),
    ("heads", None),
    ("kv", None),
    ("vocab", None),
    ("layers", None),
    ("classes", None),
    ("max_len", None),
    ("token_types", None),
    ("relpos_buckets", None),
)

FSDP_TENSOR_RULES: LogicalRules = (
    ("batch", BATCH_AXES),
    ("length", None),
    ("embed", "fsdp"),
    ("mlp", "tensor"),
    ("heads", "tensor"),
    ("kv", None),
    ("vocab", "tensor"),
    ("layers", None),
    ("classes", None),
    ("max_len", None),
    ("token_types", None),
    ("relpos_buckets", None),
)

DATA_TENSOR_RULES: LogicalRules = tuple(
    (name, None if name == "embed" else axes)
    for name, axes in FSDP_TENSOR_RULES)

# name -> rules; each is also a gin constant `xferjax.partitioning.<NAME>`.
RULE_SETS = {
    "DATA_PARALLEL_RULES": DATA_PARALLEL_RULES,
    "FSDP_RULES": FSDP_RULES,
    "DATA_TENSOR_RULES": DATA_TENSOR_RULES,
    "FSDP_TENSOR_RULES": FSDP_TENSOR_RULES,
}
for _name, _rules in RULE_SETS.items():
  gin.constant(f"xferjax.partitioning.{_name}", _rules)


def rule_set_name(rules: LogicalRules) -> str:
  """The shipped name of `rules`, or 'custom'."""
  rules = tuple((str(n), a) for n, a in rules)
  for name, known in RULE_SETS.items():
    if tuple(known) == rules:
      return name
  return "custom"


@dataclasses.dataclass(frozen=True)
class Partitioner:
  """A mesh plus the logical rules that map model axes onto it."""

  mesh: Mesh
  rules: tuple[tuple[str, Any], ...]

  @property
  def data_parallel_size(self) -> int:
    return self.mesh.shape["data"] * self.mesh.shape["fsdp"]

  def logical_sharding(self, logical_spec: PartitionSpec) -> NamedSharding:
    return NamedSharding(
        self.mesh, nn.logical_to_mesh_axes(logical_spec, self.rules))

  def tree_shardings(self, boxed_tree: Any) -> Any:
    """NamedShardings for a tree whose leaves may be `nn.Partitioned` boxes.

    Unboxed leaves (step counters, scalars) are replicated.
    """
    specs = nn.get_partition_spec(boxed_tree)
    return jax.tree.map(
        self.logical_sharding, specs,
        is_leaf=lambda x: isinstance(x, PartitionSpec) or x is None)

  def batch_sharding(self, ndim: int) -> NamedSharding:
    """Inputs are split over the batch axes on their leading dimension."""
    return NamedSharding(self.mesh,
                         PartitionSpec(BATCH_AXES, *([None] * (ndim - 1))))

  def replicated(self) -> NamedSharding:
    return NamedSharding(self.mesh, PartitionSpec())

  def context(self):
    """Context in which flax's logical constraints resolve to this mesh."""
    return _PartitionContext(self)


class _PartitionContext:
  """`jax.set_mesh` + `nn.logical_axis_rules` as one context manager."""

  def __init__(self, partitioner: Partitioner):
    self._p = partitioner
    self._stack = []

  def __enter__(self):
    for cm in (jax.set_mesh(self._p.mesh), nn.logical_axis_rules(self._p.rules)):
      cm.__enter__()
      self._stack.append(cm)
    return self._p

  def __exit__(self, *exc):
    while self._stack:
      self._stack.pop().__exit__(*exc)
    return False


def _check_rules(rules: LogicalRules) -> tuple[tuple[str, Any], ...]:
  rules = tuple((str(name), axes) for name, axes in rules)
  named = {name for name, _ in rules}
  missing = [a for a in LOGICAL_AXES if a not in named]
  if missing:
    raise errors.ConfigError(
        f"logical axis rules say nothing about {missing}",
        "add a rule for each (use None to replicate), or start from "
        "xferjax.partitioning.FSDP_TENSOR_RULES")
  for name, axes in rules:
    for axis in (axes if isinstance(axes, (tuple, list)) else (axes,)):
      if axis is not None and axis not in MESH_AXES:
        raise errors.ConfigError(
            f"logical axis rule ({name!r}, {axes!r}) names mesh axis "
            f"{axis!r}, which does not exist",
            f"use one of {MESH_AXES} or None")
  return rules


@gin.configurable
def create_partitioner(
    data: int = -1,
    fsdp: int = 1,
    tensor: int = 1,
    rules: LogicalRules = FSDP_TENSOR_RULES,
    devices: Sequence[jax.Device] | None = None,
) -> Partitioner:
  """Builds the (data, fsdp, tensor) mesh over all devices.

  One of the sizes may be -1: it takes whatever devices are left, so the
  default (`data=-1`) is pure data parallelism over every device.
  """
  devices = list(jax.devices() if devices is None else devices)
  sizes = list(mesh_shape(data, fsdp, tensor, len(devices)).values())
  rules = _check_rules(rules)
  _check_mesh_axes_used(dict(zip(MESH_AXES, sizes)), rules)
  mesh = Mesh(np.asarray(devices).reshape(sizes), MESH_AXES)
  return Partitioner(mesh=mesh, rules=rules)


def mesh_shape(data: int, fsdp: int, tensor: int,
               num_devices: int) -> dict[str, int]:
  """The mesh axis sizes for `num_devices` (one size may be -1: the rest);
  launchers check a topology with it before any device exists."""
  sizes = [data, fsdp, tensor]
  if sizes.count(-1) > 1:
    raise errors.ConfigError(
        f"mesh sizes (data={data}, fsdp={fsdp}, tensor={tensor}) have more "
        "than one -1", "set all but one mesh axis to an explicit size")
  known = math.prod(s for s in sizes if s != -1)
  if known <= 0 or num_devices % known:
    raise errors.ShapeError(
        f"mesh (data={data}, fsdp={fsdp}, tensor={tensor}) does not divide "
        f"the {num_devices} available devices",
        "choose axis sizes whose product is the device count (or use -1 for "
        "one axis)")
  sizes = [num_devices // known if s == -1 else s for s in sizes]
  if math.prod(sizes) != num_devices:
    raise errors.ShapeError(
        f"mesh {dict(zip(MESH_AXES, sizes))} needs {math.prod(sizes)} devices "
        f"but {num_devices} are available",
        "make the product of the mesh axis sizes equal the device count")
  return dict(zip(MESH_AXES, sizes))


def _mesh_axes_of(axes: Any) -> tuple[str, ...]:
  if axes is None:
    return ()
  return tuple(axes) if isinstance(axes, (tuple, list)) else (axes,)


def _check_mesh_axes_used(shape: dict[str, int], rules: LogicalRules) -> None:
  used = {a for _, axes in rules for a in _mesh_axes_of(axes)}
  for axis, size in shape.items():
    if size > 1 and axis not in used:
      raise errors.ConfigError(
          f"mesh axis {axis!r} has {size} devices but no logical axis rule "
          f"maps anything to it ({rule_set_name(rules)}): those devices "
          "would only repeat the same computation",
          f"set create_partitioner.{axis} = 1 (giving the devices to "
          f"another axis), or use rules that shard over {axis!r} (e.g. "
          "FSDP_TENSOR_RULES)")


def check_divisible(boxed_tree: Any, partitioner: Partitioner) -> None:
  """Fails early, naming the axis, when a sharded dimension does not divide.

  XLA would otherwise pad silently or fail deep inside compilation.
  """
  flat = jax.tree_util.tree_flatten_with_path(
      boxed_tree, is_leaf=lambda x: isinstance(x, nn.Partitioned))[0]
  for path, leaf in flat:
    if not isinstance(leaf, nn.Partitioned):
      continue
    mesh_axes = nn.logical_to_mesh_axes(leaf.names, partitioner.rules)
    for dim, (size, logical, axes) in enumerate(
        zip(leaf.value.shape, leaf.names, mesh_axes)):
      if axes is None:
        continue
      axes = axes if isinstance(axes, tuple) else (axes,)
      split = math.prod(partitioner.mesh.shape[a] for a in axes)
      if size % split:
        name = jax.tree_util.keystr(path)
        raise errors.ShapeError(
            f"parameter {name} dimension {dim} (logical axis {logical!r}, "
            f"size {size}) cannot be split {split} ways over mesh axes {axes}",
            f"map {logical!r} to None in the rules, shrink those mesh axes, or "
            f"make the size a multiple of {split}")


def check_batch_divisible(batch_size: int, partitioner: Partitioner) -> None:
  n = partitioner.data_parallel_size
  if batch_size % n:
    raise errors.ShapeError(
        f"batch size {batch_size} is not divisible by the {n} data-parallel "
        f"shards (mesh data x fsdp = {partitioner.mesh.shape['data']} x "
        f"{partitioner.mesh.shape['fsdp']})",
        f"use a batch size that is a multiple of {n}")


def host_local_to_global(batch: dict[str, np.ndarray],
                         partitioner: Partitioner) -> dict[str, jax.Array]:
  """Assembles per-host slices of a batch into global sharded arrays.

  On one process the slice is the whole batch; on several, each process
  passes its own rows (see `xferjax.data.pipeline.host_slice`).
  """
  return {
      k: jax.make_array_from_process_local_data(
          partitioner.batch_sharding(v.ndim), v)
      for k, v in batch.items()
  }
