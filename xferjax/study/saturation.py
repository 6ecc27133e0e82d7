"""Gain vs intermediate data size: the saturating curve g(n) = A * n / (n + B).

Why this form (a hyperbola, as in Michaelis-Menten kinetics) and not
A * (1 - exp(-n / B)): both pass through g(0) = 0 (the baseline) and level off
at A, but study grids space data sizes by factors of ten (1k, 10k, 100k), and
gains measured that way keep creeping up over decades rather than stopping
abruptly; the hyperbola's 1/n approach to A allows that, the exponential's
does not. Its parameters read directly:

  A  the asymptotic gain in points with unlimited intermediate data
     (negative if intermediate training hurts);
  B  the half-saturation size: with B examples the gain is A / 2.

Fitting: for a fixed B the model is linear in A, so A has a closed form and
the residual sum of squares is Syy - Sxy^2 / Sxx with x = n / (n + B). We
evaluate it on a log-spaced grid of B for every bootstrap replicate at once
(one matrix product), take the best grid point and refine it by a parabola
through its neighbours in log B. No iterative optimiser, so no starting
values, no failures to converge, and thousands of fits take milliseconds.
"""

from __future__ import annotations

import numpy as np

# B is searched from GRID_SPAN times below the smallest measured size to
# GRID_SPAN times above the largest; a fit at either end means the curve
# does not bend inside the measured range (flat, or still linear).
GRID_SPAN = 1e3
GRID_POINTS = 481


def b_grid(sizes) -> np.ndarray:
  sizes = np.asarray(sizes, float)
  return np.geomspace(sizes.min() / GRID_SPAN, sizes.max() * GRID_SPAN,
                      GRID_POINTS)


def curve(n, a, b) -> np.ndarray:
  n = np.asarray(n, float)
  return a * n / (n + b)


def fit(sizes, gains, mask=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Least-squares (A, B, at_edge) for gains of shape (..., len(sizes)).

  `mask` (same shape as gains, or None) marks the points to use; points that
  are NaN are left out as well. `at_edge` is True where the best B lies at
  the end of the search grid (B is then a bound, not an estimate).
  """
  sizes = np.asarray(sizes, float)
  gains = np.asarray(gains, float)
  use = ~np.isnan(gains) if mask is None else (mask & ~np.isnan(gains))
  y = np.where(use, gains, 0.0)
  w = use.astype(float)
  log_grid = np.log(b_grid(sizes))
  x = sizes / (sizes + np.exp(log_grid)[:, None])           # (G, P)
  sxy = np.einsum("...p,gp->...g", y, x)
  sxx = np.einsum("...p,gp->...g", w, x * x)
  syy = (y * y).sum(-1)[..., None]
  with np.errstate(divide="ignore", invalid="ignore"):
    sse = np.where(sxx > 0, syy - sxy * sxy / sxx, np.inf)
  j = np.argmin(sse, axis=-1)
  last = len(log_grid) - 1
  at_edge = (j == 0) | (j == last)
  # Parabola through (j-1, j, j+1) in log B; its vertex refines the minimum.
  jc = np.clip(j, 1, last - 1)
  s_lo, s_mid, s_hi = (np.take_along_axis(sse, (jc + d)[..., None], -1)[..., 0]
                       for d in (-1, 0, 1))
  curvature = s_lo - 2 * s_mid + s_hi
  with np.errstate(divide="ignore", invalid="ignore"):
    offset = np.where(curvature > 0, 0.5 * (s_lo - s_hi) / curvature, 0.0)
  offset = np.where(at_edge, 0.0, np.clip(offset, -1.0, 1.0))
  step = log_grid[1] - log_grid[0]
  log_b = np.where(at_edge, log_grid[j], log_grid[jc] + offset * step)
  b = np.exp(log_b)
  xb = sizes / (sizes + b[..., None])
  with np.errstate(divide="ignore", invalid="ignore"):
    a = (y * xb).sum(-1) / (w * xb * xb).sum(-1)
  return a, b, at_edge
