"""The OCI labels recapp writes: versions travel on the image, so nothing downstream guesses."""

from __future__ import annotations

import re

from recapp import LABEL_PREFIX, __version__

RECIPE = f"{LABEL_PREFIX}.recipe"
RECIPE_HASH = f"{LABEL_PREFIX}.recipe-hash"
KIND = f"{LABEL_PREFIX}.kind"
SUITE = f"{LABEL_PREFIX}.suite"
WORKLOAD = f"{LABEL_PREFIX}.workload"
BASE = f"{LABEL_PREFIX}.base"
USER = f"{LABEL_PREFIX}.user"
VERSION_PREFIX = f"{LABEL_PREFIX}.version."


def version_label(component: str) -> str:
    return f"{VERSION_PREFIX}{component}"


def versions_from_labels(labels: dict[str, str]) -> dict[str, str]:
    return {k.removeprefix(VERSION_PREFIX): v for k, v in labels.items() if k.startswith(VERSION_PREFIX)}


def upstream_version(debian_version: str) -> str:
    """'1:4.17.4-2+deb13u1' → '4.17.4'; '7.0.0~rc1-2+b1' → '7.0.0~rc1' (epoch and revision dropped)."""
    version = re.sub(r"^\d+:", "", debian_version.strip())
    if "-" in version:
        version = version.rsplit("-", 1)[0]
    return version


def recipe_labels(
    *,
    recipe: str,
    digest: str,
    kind: str,
    suite: str,
    workload: str | None,
    base: str,
    user: str,
    summary: str,
) -> dict[str, str]:
    labels = {
        RECIPE: recipe,
        RECIPE_HASH: digest,
        KIND: kind,
        SUITE: suite,
        BASE: base,
        USER: user,
        "org.opencontainers.image.title": f"recapp {recipe} ({suite})",
        "org.opencontainers.image.description": summary,
        "org.opencontainers.image.vendor": "recapp",
        "org.opencontainers.image.version": __version__,
    }
    if workload:
        labels[WORKLOAD] = workload
    return labels
