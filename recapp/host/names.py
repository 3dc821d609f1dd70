"""Checks for the names users hand recapp: cluster names and image references.

Every such name ends up in an argv (never a shell command line), an object name or a path under the
state directory. Checking it where it enters keeps a hostile one (`../..`, `a;rm -rf ~`, `$(id)`)
from reaching any of them: one line naming the option and the value, exit 2, nothing made.
"""

from __future__ import annotations

import re

from recapp.errors import RecappError

# A cluster name becomes part of every object name, a podman network/volume/container name and a
# directory under the state dir: a DNS-1035 label of at most 40 (see k8s/spec.py for the 40).
CLUSTER_NAME_MAX = 40
CLUSTER_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
# registry/path:tag@digest: no whitespace, no shell metacharacters, no leading '-' (an option).
IMAGE_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$")
IMAGE_REF_MAX = 255


def shown(value: str) -> str:
    """A user's value, quoted and on one line however hostile it is, shortened past 50 characters."""
    text = repr(value)
    return text if len(text) <= 50 else text[:47] + "..."


def cluster_name_problem(name: str) -> str | None:
    if len(name) > CLUSTER_NAME_MAX:
        return f"must be at most {CLUSTER_NAME_MAX} characters (got {len(name)})"
    if not CLUSTER_NAME.fullmatch(name):
        return "must be a DNS-1035 label: lowercase letters, digits and '-', starting with a letter"
    return None


def check_cluster_name(
    name: str, *, error: type[RecappError] = RecappError, what: str = "cluster name"
) -> str:
    problem = cluster_name_problem(name)
    if problem:
        raise error(f"{what} {shown(name)}: {problem}")
    return name


def image_ref_problem(ref: str) -> str | None:
    if len(ref) > IMAGE_REF_MAX or not IMAGE_REF.fullmatch(ref) or ".." in ref.split("/"):
        return "not an image reference (letters, digits, '._/:@-'; no spaces, shell characters or '..')"
    return None


def check_image_ref(ref: str, *, error: type[RecappError] = RecappError, what: str = "image") -> str:
    problem = image_ref_problem(ref)
    if problem:
        raise error(f"{what} {shown(ref)}: {problem}")
    return ref
