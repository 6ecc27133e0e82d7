"""Flax models with logical axis names (XLM-R-style encoder and heads)."""
