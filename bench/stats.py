"""Statistics of benchmark samples: percentile-bootstrap 95 % intervals of a median and of a ratio of
two medians, and the least-squares line of a figure against the number of nodes.

Why a bootstrap: the samples of a shared, loaded machine are skewed and few (3–10), so no normal
approximation holds; resampling each model's own samples (with replacement, independently, since the
models ran in separate jobs) and reading the 2.5th and 97.5th percentiles of the resampled statistic
assumes nothing about their shape. With n samples a median takes at most n distinct values, so with
3 samples an interval is coarse (often min … max): that coarseness is the honest answer.

The generator is seeded (SEED), so the same samples give the same interval in every report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 10_000
SEED = 18  # fixed: the same samples give the same interval (issue 18 asked for intervals)
LEVEL = 0.95


def _medians(samples: Sequence[float], rng: np.random.Generator, resamples: int) -> np.ndarray:
    data = np.asarray(samples, dtype=float)
    picks = rng.integers(0, len(data), size=(resamples, len(data)))
    return np.median(data[picks], axis=1)


def _bounds(values: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return float(low), float(high)


def median_interval(
    samples: Sequence[float], *, resamples: int = RESAMPLES, seed: int = SEED, level: float = LEVEL
) -> tuple[float, float]:
    """The percentile-bootstrap interval of the median of `samples`."""
    if not samples:
        raise ValueError("no samples")
    rng = np.random.default_rng(seed)
    return _bounds(_medians(samples, rng, resamples), level)


def ratio_interval(
    numerator: Sequence[float],
    denominator: Sequence[float],
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
) -> tuple[float, float] | None:
    """The percentile-bootstrap interval of median(numerator) ÷ median(denominator), each side
    resampled on its own; None when a resampled denominator median is 0 (no ratio to speak of)."""
    if not numerator or not denominator:
        raise ValueError("no samples")
    rng = np.random.default_rng(seed)
    top = _medians(numerator, rng, resamples)
    bottom = _medians(denominator, rng, resamples)
    if np.any(bottom == 0):
        return None
    return _bounds(top / bottom, level)


@dataclass(frozen=True)
class Line:
    """y = intercept + slope·x, least squares; r2 says how well a line describes the points."""

    slope: float
    intercept: float
    r2: float


def fit_line(xs: Sequence[float], ys: Sequence[float]) -> Line:
    """The least-squares line through (x, y) points (at least two distinct x)."""
    x = np.asarray(xs, dtype=float)
    y = np.asarray(ys, dtype=float)
    if len(x) != len(y) or len(set(x.tolist())) < 2:
        raise ValueError("a line needs points at two different x at least")
    slope, intercept = np.polyfit(x, y, 1)
    residual = float(np.sum((y - (intercept + slope * x)) ** 2))
    total = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - residual / total if total else 1.0
    return Line(slope=float(slope), intercept=float(intercept), r2=r2)
