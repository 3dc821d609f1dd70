"""The virtual-cluster spec: what a user asks for, validated before any object is made from it."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from recapp.errors import ClusterError
from recapp.host.names import image_ref_problem
from recapp.k8s import constants as c

# The cluster name becomes part of every object name. Kubernetes limits names to 63 characters, and
# Service names must be DNS-1035 labels (start with a letter), so the name is a DNS-1035 label of at
# most 40: `<name>-node-63`, `storage-<name>-node-63` and the StatefulSet's revision hash label
# `<name>-node-<10 chars>` all stay within 63.
NAME_MAX = 40
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# A Kubernetes quantity in the forms people write: 500m, 2, 1.5, 512Mi, 4G.
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
# An extended resource name as device plugins advertise it: <domain>/<name>, e.g. smarter-devices/fuse.
_RESOURCE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
# A profile file name relative to the kubelet's seccomp dir, or an AppArmor profile name.
_PROFILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")

Launcher = Literal["agent", "podexec", "kubexec"]
Storage = Literal["volume", "emptyDir"]
NetworkPolicyProbe = Literal["refuse", "warn", "skip"]
PullPolicy = Literal["IfNotPresent", "Never", "Always"]


def _dns_label(value: str, *, max_len: int, pattern: re.Pattern[str], kind: str) -> str:
    if len(value) > max_len:
        raise ValueError(f"must be at most {max_len} characters (got {len(value)})")
    if not pattern.fullmatch(value):
        raise ValueError(f"must be a {kind}: lowercase letters, digits and '-', starting with a letter")
    return value


class ResourceAmounts(BaseModel):
    """CPU and memory for one side (requests or limits) of a container's resources."""

    model_config = ConfigDict(extra="forbid")

    cpu: str | None = None
    memory: str | None = None

    @field_validator("cpu", "memory")
    @classmethod
    def _quantity(cls, value: str | None) -> str | None:
        if value is not None and not _QUANTITY.fullmatch(value):
            raise ValueError("must be a Kubernetes quantity such as 500m, 2, 512Mi or 4Gi")
        return value

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in (("cpu", self.cpu), ("memory", self.memory)) if v is not None}


class Resources(BaseModel):
    """Requests and limits of the node container (the REC and the APPs it runs nested)."""

    model_config = ConfigDict(extra="forbid")

    requests: ResourceAmounts | None = None
    limits: ResourceAmounts | None = None


class ClusterSpec(BaseModel):
    """One virtual cluster: `nodes` node pods running the REC image, and one login pod.

    Unknown fields are errors (a misspelt option must not be silently ignored).
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="cluster name; every object name starts with it")
    nodes: int = Field(ge=1, le=64, description="number of node pods")
    slots_per_node: int = Field(default=c.DEFAULT_SLOTS_PER_NODE, ge=1, le=1024)
    rec_image: str = Field(description="the REC image, run by node and login pods")
    uid: int = Field(default=c.DEFAULT_UID, ge=1, le=2**31 - 1, description="the rec user (never root)")
    gid: int = Field(default=c.DEFAULT_GID, ge=1, le=2**31 - 1, description="the rec group")
    # A given `resources` replaces the default whole (then no memory limit unless it says one).
    resources: Resources | None = Field(
        default_factory=lambda: Resources(
            requests=ResourceAmounts(cpu=c.DEFAULT_CPU_REQUEST, memory=c.DEFAULT_MEMORY_REQUEST),
            limits=ResourceAmounts(memory=c.DEFAULT_MEMORY_LIMIT),
        ),
        description="node container requests/limits; default: small requests, a memory limit, no CPU limit",
    )
    launcher: Launcher = Field(default="agent", description="how PRRTE starts its daemons on the nodes")
    namespace: str = Field(default="", description="default: recapp-<name>")
    agent_port: int = Field(default=c.DEFAULT_AGENT_PORT, ge=1024, le=65535)
    ready_timeout_s: int = Field(default=c.DEFAULT_READY_TIMEOUT_S, ge=1, le=86400)
    storage: Storage = Field(default="volume", description="inner podman storage: a PVC per node or emptyDir")
    storage_size: str = Field(default=c.DEFAULT_STORAGE_SIZE, description="size of each node's storage")
    storage_class: str | None = Field(default=None, description="StorageClass of the storage PVCs")
    image_pull_policy: PullPolicy = "IfNotPresent"
    shm_size: str | None = Field(default=c.DEFAULT_SHM_SIZE, description="sizeLimit of the /dev/shm emptyDir")
    # Security options (see objects.py for why each exists).
    user_namespace: bool | None = Field(
        default=None,
        description="run pods with hostUsers: false; unset: where the cluster supports it (detected)",
    )
    cert_lifetime_days: int = Field(
        default=c.DEFAULT_CERT_LIFETIME_DAYS,
        ge=1,
        le=365,
        description="TLS certificates' lifetime",
    )
    network_policy_probe: NetworkPolicyProbe = Field(
        default="refuse",
        description="cluster up: a pod outside the cluster must not reach an agent (refuse/warn/skip)",
    )
    api_server_cidrs: list[str] = Field(
        default_factory=list,
        description="login pod's egress to the API server; empty: any address, ports 443/6443",
    )
    seccomp_localhost_profile: str | None = Field(
        default=None, description="a Localhost seccomp profile instead of RuntimeDefault"
    )
    apparmor_localhost_profile: str | None = Field(
        default=None, description="a Localhost AppArmor profile for the node container"
    )
    fuse_device_resource: str | None = Field(
        default=None, description="device-plugin resource that grants /dev/fuse, e.g. smarter-devices/fuse"
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _dns_label(value, max_len=NAME_MAX, pattern=_DNS1035_LABEL, kind="DNS-1035 label")

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        if value == "":
            return value  # filled in from the name below
        return _dns_label(value, max_len=63, pattern=_DNS1123_LABEL, kind="DNS-1123 label")

    @field_validator("rec_image")
    @classmethod
    def _image(cls, value: str) -> str:
        if image_ref_problem(value):
            raise ValueError(
                "must be an image reference (letters, digits, '._/:@-'; no spaces, shell characters or '..')"
            )
        return value

    @field_validator("storage_size")
    @classmethod
    def _storage_size(cls, value: str) -> str:
        if not _QUANTITY.fullmatch(value):
            raise ValueError("must be a Kubernetes quantity such as 10Gi")
        return value

    @field_validator("shm_size")
    @classmethod
    def _shm_size(cls, value: str | None) -> str | None:
        if value is not None and not _QUANTITY.fullmatch(value):
            raise ValueError("must be a Kubernetes quantity such as 1Gi")
        return value

    @field_validator("api_server_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"{cidr!r} is not an address or CIDR such as 10.0.0.1/32") from None
        return value

    @field_validator("storage_class")
    @classmethod
    def _storage_class(cls, value: str | None) -> str | None:
        if value is not None:
            _dns_label(
                value, max_len=253, pattern=re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"), kind="DNS name"
            )
        return value

    @field_validator("seccomp_localhost_profile", "apparmor_localhost_profile")
    @classmethod
    def _profile(cls, value: str | None) -> str | None:
        if value is not None and (
            len(value) > 253 or not _PROFILE.fullmatch(value) or ".." in value.split("/")
        ):
            raise ValueError("must be a relative profile name (letters, digits, '._/-'; no '..')")
        return value

    @field_validator("fuse_device_resource")
    @classmethod
    def _resource_name(cls, value: str | None) -> str | None:
        if value is not None and (len(value) > 253 or not _RESOURCE_NAME.fullmatch(value)):
            raise ValueError("must be an extended resource name <domain>/<name>, e.g. smarter-devices/fuse")
        return value

    @model_validator(mode="after")
    def _default_namespace(self) -> ClusterSpec:
        if not self.namespace:
            self.namespace = f"{c.NAMESPACE_PREFIX}{self.name}"
        return self


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(spec)"


def _one_message(error: Mapping[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown field"
    if error["type"] == "missing":
        return "is required"
    message = str(error["msg"])
    message = message.removeprefix("Value error, ")
    value = error.get("input")
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        shown = repr(value)  # repr keeps hostile input on one line and visibly quoted
        if len(shown) > 50:
            shown = shown[:47] + "..."
        message += f" (got {shown})"
    return message


def spec_error(exc: ValidationError) -> ClusterError:
    """One line for a pydantic error: `cluster spec: field 'name': <why> (got '<value>')`."""
    errors = exc.errors()
    first = errors[0]
    line = f"cluster spec: field '{_field_path(first['loc'])}': {_one_message(first)}"
    if len(errors) > 1:
        line += f" (and {len(errors) - 1} more)"
    return ClusterError(line)


def load_spec(data: Mapping[str, Any]) -> ClusterSpec:
    """Validate a mapping (e.g. parsed YAML or CLI options) into a ClusterSpec, or raise ClusterError."""
    try:
        return ClusterSpec.model_validate(dict(data))
    except ValidationError as exc:
        raise spec_error(exc) from exc
