"""The images recapp made, read back from the engine: versions come from their labels."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from recapp.errors import BuildError
from recapp.host import engine
from recapp.host import labels as L
from recapp.host.runner import run


@dataclass(frozen=True)
class ImageSummary:
    tag: str
    id: str
    kind: str
    suite: str
    workload: str | None
    size_bytes: int
    versions: dict[str, str]
    recipe_hash: str | None
    recipe: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def list_images(kinds: tuple[str, ...] = ("rec", "app")) -> list[ImageSummary]:
    proc = run(
        ["podman", "images", "--filter", f"label={L.KIND}", "--format", "json"],
        error=BuildError,
        what="podman images",
        env=engine.settings().env,
    )
    out: list[ImageSummary] = []
    for img in json.loads(proc.stdout or "[]"):
        labels = img.get("Labels") or {}
        if labels.get(L.KIND) not in kinds:
            continue
        for tag in img.get("Names") or []:
            out.append(
                ImageSummary(
                    tag=tag,
                    id=str(img["Id"])[:12],
                    kind=labels[L.KIND],
                    suite=labels.get(L.SUITE, ""),
                    workload=labels.get(L.WORKLOAD),
                    size_bytes=int(img.get("Size") or 0),
                    versions=L.versions_from_labels(labels),
                    recipe_hash=labels.get(L.RECIPE_HASH),
                    recipe=labels.get(L.RECIPE),
                )
            )
    return sorted(out, key=lambda s: (s.kind, s.tag))


def source_flavor_tags(kind: str) -> list[str]:
    """Tags of the source-flavor images of kind (`recapp build KIND --flavor source`) present here."""
    return [s.tag for s in list_images((kind,)) if (s.recipe or "").endswith("-source")]
