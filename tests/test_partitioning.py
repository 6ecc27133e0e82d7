"""Mesh construction and the errors that catch bad shardings early."""

import jax
import pytest

from xferjax import errors, partitioning
from xferjax.models.encoder import EncoderConfig, EncoderModel


def test_default_mesh_uses_every_device():
  p = partitioning.create_partitioner()
  assert p.mesh.axis_names == ("data", "fsdp", "tensor")
  assert p.mesh.devices.size == jax.device_count()


@pytest.mark.parametrize("sizes", [dict(data=2, fsdp=-1, tensor=-1),
                                   dict(data=3, fsdp=1, tensor=1)])
def test_bad_mesh_shapes(sizes):
  if sizes["data"] == 3 and jax.device_count() % 3 == 0:
    pytest.skip("3 divides the device count here")
  with pytest.raises((errors.ConfigError, errors.ShapeError)):
    partitioning.create_partitioner(**sizes)


def test_rules_must_cover_every_axis_and_name_real_mesh_axes():
  with pytest.raises(errors.ConfigError, match="say nothing about"):
    partitioning.create_partitioner(rules=(("batch", "data"),))
  bad = tuple((n, "model" if n == "mlp" else a)
              for n, a in partitioning.FSDP_TENSOR_RULES)
  with pytest.raises(errors.ConfigError, match="'model'"):
    partitioning.create_partitioner(rules=bad)


class _MeshShape:
  """Stands in for a mesh: `check_divisible` reads only its axis sizes, so a
  2-way tensor axis can be checked on a 1-device machine."""

  def __init__(self, **shape):
    self.shape = shape


def test_indivisible_parameter_axis_is_named():
  cfg = EncoderConfig(vocab_size=256, d_model=32, num_layers=1, num_heads=4,
                      d_ff=63, max_len=16)
  model = EncoderModel(cfg, head="classification", num_labels=3)
  ids = jax.numpy.ones((1, 4), "int32")
  boxed = jax.eval_shape(lambda r: model.init(r, ids, ids)["params"],
                         jax.random.PRNGKey(0))
  two_way_tensor = partitioning.Partitioner(
      mesh=_MeshShape(data=1, fsdp=1, tensor=2),
      rules=partitioning.FSDP_TENSOR_RULES)
  with pytest.raises(errors.ShapeError, match="'mlp'.*size 63"):
    partitioning.check_divisible(boxed, two_way_tensor)
  # Replicating `mlp` is the suggested fix, and it passes.
  partitioning.check_divisible(boxed, partitioning.Partitioner(
      mesh=_MeshShape(data=1, fsdp=1, tensor=2),
      rules=partitioning.FSDP_RULES))


def test_batch_must_divide_data_axes():
  p = partitioning.create_partitioner()
  n = p.data_parallel_size
  partitioning.check_batch_divisible(4 * n, p)
  if n > 1:
    with pytest.raises(errors.ShapeError, match="not divisible"):
      partitioning.check_batch_divisible(4 * n + 1, p)


def test_a_mesh_axis_no_rule_uses_is_refused():
  """Pure data-parallel rules on a mesh with a tensor axis would repeat the
  same work on every tensor shard: the error names the axis and the fix."""
  with pytest.raises(errors.ConfigError, match="'tensor' has 4 devices") as e:
    partitioning._check_mesh_axes_used(
        {"data": 2, "fsdp": 1, "tensor": 4}, partitioning.DATA_PARALLEL_RULES)
  assert "create_partitioner.tensor = 1" in e.value.fix
  assert "DATA_PARALLEL_RULES" in e.value.message
  partitioning._check_mesh_axes_used({"data": 2, "fsdp": 4, "tensor": 1},
                                     partitioning.DATA_PARALLEL_RULES)


def test_rule_sets_are_named():
  for name, rules in partitioning.RULE_SETS.items():
    assert partitioning.rule_set_name(rules) == name
    partitioning._check_rules(rules)
  assert partitioning.rule_set_name((("batch", "data"),)) == "custom"


def test_xlmr_vocabulary_cannot_be_split_over_tensor_axis():
  """250,002 rows (the released XLM-R vocabulary) do not divide 4 ways."""
  from xferjax.models import api, presets
  family, cfg = presets.load("xlmr_base")
  boxed = api.abstract_params(api.build_model("mlm", family=family,
                                              config=cfg))
  with pytest.raises(errors.ShapeError,
                     match=r"token_embed.*'vocab', size 250002\) cannot be "
                     r"split 4 ways") as e:
    partitioning.check_divisible(boxed, partitioning.Partitioner(
        mesh=_MeshShape(data=1, fsdp=2, tensor=4),
        rules=partitioning.FSDP_TENSOR_RULES))
  assert "map 'vocab' to None" in e.value.fix
  partitioning.check_divisible(boxed, partitioning.Partitioner(
      mesh=_MeshShape(data=1, fsdp=8, tensor=1),
      rules=partitioning.FSDP_RULES))
