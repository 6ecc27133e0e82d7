"""Tiny presets of both families, loaded from gin_configs/models/."""

import pytest

from xferjax.models import presets


@pytest.fixture(scope="session")
def tiny_xlmr():
  return presets.load("tiny_xlmr")[1]


@pytest.fixture(scope="session")
def tiny_xlmr_xl():
  return presets.load("tiny_xlmr_xl")[1]


@pytest.fixture(scope="session")
def tiny_mt5():
  return presets.load("tiny_mt5")[1]
