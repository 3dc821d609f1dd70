"""The REC × APP pair through the PMIx levels (L1 probe on one node … L4 collectives and ring), as in
`recapp matrix`: a level runs only when the one before it passed."""

from __future__ import annotations

import pytest

from recapp.conformance.matrix.levels import LEVELS
from recapp.conformance.matrix.runner import run_pair
from recapp.k8s.jobs import image_ref
from recapp.reports.records import ImageRef

pytestmark = [pytest.mark.rec, pytest.mark.app]


def test_pmix_level(backend, cluster, rec_image, app_image, results, level):
    failed = [c for c in results.cells if c.status != "PASS"]
    if failed:
        pytest.skip(f"{failed[0].level} did not pass ({failed[0].status})")
    # run_pair applies the documented workarounds, as the matrix does.
    versions = (image_ref(app_image) or ImageRef(ref=app_image)).versions
    cell = run_pair(
        backend, cluster, rec_image, app_image, [LEVELS[level]], results.out_dir, lambda _t: None, versions
    )[0]
    results.levels.append(level)
    results.cells.append(cell)
    assert cell.status == "PASS", f"{level} ({LEVELS[level].title}): {cell.status}: {cell.reason}"
