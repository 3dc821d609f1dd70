"""Read what a built image contains: its packages and its components' versions.

Runs small read-only commands in throwaway containers of the image, through the backend.
"""

from __future__ import annotations

import re

from recapp.builder.backends.base import BuildBackend
from recapp.builder.recipe import Recipe
from recapp.errors import BuildError, RecipeError
from recapp.host.labels import upstream_version

DPKG_QUERY = ["dpkg-query", "-W", "-f", "${db:Status-Abbrev}\t${Package}\t${Version}\n"]

# Checks every requested package (or `name=version` pin) against the base's apt lists; names are
# passed as arguments, never interpolated into the script.
MISSING_SCRIPT = (
    'for p in "$@"; do apt-cache show --no-all-versions "$p" >/dev/null 2>&1 || echo "MISSING $p"; done'
)


def installed_packages(backend: BuildBackend, image: str) -> dict[str, str]:
    status, out = backend.run(image, DPKG_QUERY)
    if status != 0:
        raise BuildError(f"cannot list packages in {image}: {out.strip().splitlines()[-1:]}")
    packages: dict[str, str] = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[0].startswith("ii"):
            packages[parts[1]] = parts[2]
    return packages


def component_versions(
    backend: BuildBackend, image: str, recipe: Recipe, packages: dict[str, str]
) -> dict[str, str]:
    versions: dict[str, str] = {}
    for component, probe in sorted(recipe.versions.items()):
        if probe.packages:
            found = next((packages[p] for p in probe.packages if p in packages), None)
            if found is None:
                raise BuildError(
                    f"{image}: {component} version: none of {', '.join(probe.packages)} is installed"
                )
            versions[component] = upstream_version(found)
        else:
            status, out = backend.run(image, probe.command)
            match = re.search(probe.pattern or "", out)
            if status != 0 or match is None:
                raise BuildError(
                    f"{image}: {component} version: `{' '.join(probe.command)}` gave no version "
                    f"(exit {status}): {out.strip()[:200]}"
                )
            versions[component] = match.group(1)
    return versions


def missing_packages(backend: BuildBackend, base: str, packages: list[str]) -> list[str]:
    status, out = backend.run(base, ["sh", "-c", MISSING_SCRIPT, "sh", *packages])
    if status != 0:
        raise BuildError(f"cannot query the package lists of {base}: {out.strip()[:200]}")
    return [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("MISSING ")]


def check_packages_exist(backend: BuildBackend, base: str, recipe: Recipe, suite: str) -> None:
    wanted = sorted(set(recipe.packages_for(suite) + recipe.build_packages_for(suite)))
    missing = missing_packages(backend, base, wanted)
    if missing:
        raise RecipeError(
            f"recipe {recipe.name}: suite {suite}: unknown package or version: {', '.join(missing)} "
            f"(not in the package lists of {base})"
        )
