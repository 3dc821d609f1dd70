"""User text in messages is printed as written: rich's emoji codes (`:x:`) are never expanded."""

from __future__ import annotations

import pytest

from recapp.cli import ui
from recapp.errors import ClusterError


def test_an_image_reference_with_a_colon_x_stays_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    # The kubelet's own event text after an image reference: `…/nope:x: Container image …`.
    ui.fail(ClusterError("node pod n-0 cannot pull image localhost/recapp/nope:x: Container image is absent"))
    err = capsys.readouterr().err
    assert (
        err.strip()
        == "error: node pod n-0 cannot pull image localhost/recapp/nope:x: Container image is absent"
    )
