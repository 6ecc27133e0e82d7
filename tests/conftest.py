"""Shared test setup: a private cache dir, quiet TF, small helpers."""

import os
import subprocess
import sys
import tempfile

# Before anything imports xferjax_tasks: the synthetic vocabulary is cached
# here, not in the user's ~/.cache (subprocesses inherit it).
os.environ.setdefault("XFERJAX_CACHE_DIR",
                      tempfile.mkdtemp(prefix="xferjax-test-cache-"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
XFERJAX = os.path.join(os.path.dirname(sys.executable), "xferjax")


def run_cli(args, env=None, timeout=600):
  """Runs the installed `xferjax` console script; returns CompletedProcess."""
  full_env = dict(os.environ, **(env or {}))
  return subprocess.run([XFERJAX, *args], capture_output=True, text=True,
                        env=full_env, timeout=timeout, cwd=REPO)


@pytest.fixture(scope="session")
def tiny_model_cfg():
  from xferjax.models.encoder import EncoderConfig
  return EncoderConfig(vocab_size=256, d_model=32, num_layers=2, num_heads=4,
                       d_ff=64, max_len=32, dropout_rate=0.1)


# Tiny presets of both families, loaded from gin_configs/models/. They live
# here, not in tests/models/conftest.py: a second conftest.py would take the
# module name `conftest` and break `from conftest import REPO` elsewhere.
@pytest.fixture(scope="session")
def tiny_xlmr():
  from xferjax.models import presets
  return presets.load("tiny_xlmr")[1]


@pytest.fixture(scope="session")
def tiny_xlmr_xl():
  from xferjax.models import presets
  return presets.load("tiny_xlmr_xl")[1]


@pytest.fixture(scope="session")
def tiny_mt5():
  from xferjax.models import presets
  return presets.load("tiny_mt5")[1]
