"""Loss and gradients of the tiny presets on 8 fake CPU devices, under
several rule sets; written to an .npz for the test to compare with 1 device.

Run as a subprocess (the device count is fixed when jax starts):

  python tests/models/sharded_grads.py OUT.npz
"""

import os
import sys

# Level 0: tiny models, so LLVM's optimisations only cost compile time
# (about 4x less here).
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_force_host_platform_device_count=8"
                           " --xla_backend_optimization_level=0")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from batches import random_batch  # noqa: E402
from xferjax import partitioning  # noqa: E402
from xferjax.models import api  # noqa: E402

# (preset, head): post-LN unrolled encoder with the tied MLM decoder, the
# scanned pre-LN encoder with a classifier, the encoder-decoder.
CASES = [("tiny_xlmr", "mlm"), ("tiny_xlmr_xl", "classification"),
         ("tiny_mt5", "text_to_text")]
# rule set -> mesh (data, fsdp, tensor)
MESHES = {"DATA_PARALLEL_RULES": (8, 1, 1), "FSDP_RULES": (2, 4, 1),
          "FSDP_TENSOR_RULES": (2, 2, 2)}
BATCH, LENGTH, SEED = 8, 16, 5


def case(preset, head):
  """Model, unsharded params, batch and dropout key of one case."""
  from xferjax.models import presets
  family, cfg = presets.load(preset)
  model = api.build_model(head, 3, family=family, config=cfg)
  params = jax.jit(lambda r: api.init_boxed(model, r))(jax.random.PRNGKey(0))
  batch = random_batch(model, BATCH, LENGTH, seed=SEED, target_length=8)
  return model, params, batch, jax.random.PRNGKey(7)


def loss_and_grads(model, params, batch, rng):
  """Unboxed params in; loss and grads flattened by parameter path."""
  loss_fn = api.make_loss_fn(model)
  loss, grads = jax.value_and_grad(lambda p: loss_fn(p, batch, rng)[0])(
      params)
  return loss, grads


def flat(tree):
  return {jax.tree_util.keystr(p): np.asarray(v)
          for p, v in jax.tree_util.tree_flatten_with_path(tree)[0]}


def main(out):
  from flax import linen as nn
  assert jax.device_count() == 8, jax.devices()
  results = {}
  for preset, head in CASES:
    model, boxed, batch, rng = case(preset, head)
    for rules_name, (data, fsdp, tensor) in MESHES.items():
      p = partitioning.create_partitioner(
          data=data, fsdp=fsdp, tensor=tensor,
          rules=partitioning.RULE_SETS[rules_name])
      partitioning.check_divisible(boxed, p)
      shardings = p.tree_shardings(boxed)
      params = jax.device_put(nn.meta.unbox(boxed), shardings)
      global_batch = partitioning.host_local_to_global(batch, p)
      with p.context():
        loss, grads = jax.jit(
            lambda pr, b: loss_and_grads(model, pr, b, rng),
            out_shardings=(p.replicated(), shardings))(params, global_batch)
      # The parameters really are split as the rules say.
      emb = (params["token_embed"] if head == "text_to_text" else
             params["encoder"]["token_embed"])["embedding"]
      shards = len({str(s.index) for s in emb.addressable_shards})
      key = f"{preset}/{head}/{rules_name}"
      results[f"{key}/loss"] = np.asarray(loss)
      results[f"{key}/embedding_shards"] = np.asarray(shards)
      for name, g in flat(grads).items():
        results[f"{key}/grad{name}"] = g
  np.savez(out, **results)


if __name__ == "__main__":
  main(sys.argv[1])
