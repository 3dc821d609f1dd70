"""The cluster's own small PKI: one CA per virtual cluster, a certificate per node pod, one for the launcher.

Every connection to a node's launch agent is mutual TLS 1.3 (the node side is stdlib `ssl`, in the
REC; generation is here, on the host, with `cryptography`, because the REC's node programs stay
stdlib-only). What each certificate is for:

- the CA signs the others and nothing else (`pathLen 0`). Its key is used once, while `cluster up`
  makes the objects, and is then dropped: it is never written to a Secret or a file, so nothing
  that runs in the cluster can mint a certificate. (A cluster does not grow; a new cluster gets a
  new CA.)
- a node certificate names its pod by every name a client may use: `<pod>` (its hostname),
  `<pod>.<service>` (the hostfile's names), and the namespace-qualified forms. Extended key usage
  serverAuth (the agent) and clientAuth (the pod's own readiness probe pings its agent); its
  subject's OU is `node`, which the agent lets ping but not launch.
- the launcher certificate (OU `launcher`, clientAuth only) is the one identity allowed to start
  programs on the agents. It is mounted in the login pod only.

Lifetimes: every certificate ends when the cluster's `cert_lifetime_days` end (default 30 days);
`not_before` is five minutes back, for clocks a little behind the host's. ECDSA P-256 keys: fast to
make (a cluster of 64 nodes costs milliseconds), and every TLS 1.3 stack takes them.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from recapp.errors import ClusterError

ROLE_NODE = "node"
ROLE_LAUNCHER = "launcher"
CLOCK_SKEW = datetime.timedelta(minutes=5)
MAX_LIFETIME = datetime.timedelta(days=365)


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key, both PEM."""

    cert_pem: bytes
    key_pem: bytes

    @property
    def cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)


@dataclass(frozen=True)
class Authority:
    """A cluster CA while certificates are being issued; the key lives only in this object."""

    cluster: str
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    not_after: datetime.datetime

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def lifetime_window(
    days: int, now: datetime.datetime | None = None
) -> tuple[datetime.datetime, datetime.datetime]:
    """(not_before, not_after) for a cluster that lives `days` days from `now`."""
    if days < 1:
        raise ClusterError(f"certificate lifetime must be at least 1 day (got {days})")
    start = now or datetime.datetime.now(datetime.UTC)
    end = start + datetime.timedelta(days=days)
    if end - start > MAX_LIFETIME:
        raise ClusterError(f"certificate lifetime must be at most {MAX_LIFETIME.days} days (got {days})")
    return start - CLOCK_SKEW, end


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_usage(*, certs: bool) -> x509.KeyUsage:
    """A CA signs certificates only; an end entity signs handshakes only."""
    flags = dict.fromkeys(
        ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
         "encipher_only", "decipher_only"),
        False,
    )  # fmt: skip
    return x509.KeyUsage(digital_signature=not certs, key_cert_sign=certs, crl_sign=certs, **flags)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(cluster: str, role: str, common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"recapp cluster {cluster}"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def make_ca(cluster: str, days: int, now: datetime.datetime | None = None) -> Authority:
    """A fresh CA for one cluster, valid for the cluster's lifetime."""
    not_before, not_after = lifetime_window(days, now)
    key = _key()
    name = _name(cluster, "ca", f"recapp {cluster} CA")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(certs=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Authority(cluster, cert, key, not_after)


def _issue(
    ca: Authority,
    role: str,
    common_name: str,
    usages: list[x509.ObjectIdentifier],
    names: list[str],
    now: datetime.datetime | None,
) -> Issued:
    key = _key()
    start = (now or datetime.datetime.now(datetime.UTC)) - CLOCK_SKEW
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(ca.cluster, role, common_name))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(max(start, ca.cert.not_valid_before_utc))
        # Never past the CA: a certificate outliving its cluster would be refused anyway.
        .not_valid_after(ca.not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(certs=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(_general_names(names)), critical=False)
    cert = builder.sign(ca.key, hashes.SHA256())
    return Issued(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def _general_names(names: list[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for name in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            out.append(x509.DNSName(name))
    return out


def node_names(pod: str, service: str, namespace: str) -> list[str]:
    """Every name a client may reach node `pod` by: hostname, hostfile name, and the qualified forms."""
    qualified = f"{pod}.{service}.{namespace}"
    return [pod, f"{pod}.{service}", qualified, f"{qualified}.svc", f"{qualified}.svc.cluster.local"]


def issue_node_cert(
    ca: Authority, pod: str, names: list[str], now: datetime.datetime | None = None
) -> Issued:
    """A node pod's certificate: serverAuth for its agent, clientAuth for its own readiness ping."""
    if not names:
        raise ClusterError(f"node certificate for {pod}: no DNS names")
    usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    return _issue(ca, ROLE_NODE, pod, usages, names, now)


def issue_client_cert(ca: Authority, now: datetime.datetime | None = None) -> Issued:
    """The launcher's certificate (login pod): the one identity the agents let start programs."""
    return _issue(
        ca, ROLE_LAUNCHER, f"recapp {ca.cluster} launcher", [ExtendedKeyUsageOID.CLIENT_AUTH], [], now
    )


@dataclass(frozen=True)
class ClusterCredentials:
    """What a cluster's Secret carries for TLS: the CA certificate (no key), node pairs, the launcher's."""

    ca_pem: bytes
    nodes: dict[str, Issued]  # pod name -> its certificate
    launcher: Issued
    not_after: datetime.datetime


def cluster_credentials(
    cluster: str,
    pods: list[str],
    service: str,
    namespace: str,
    days: int,
    now: datetime.datetime | None = None,
) -> ClusterCredentials:
    """A fresh CA, a certificate for every node pod and one for the launcher; the CA key is dropped."""
    ca = make_ca(cluster, days, now)
    nodes = {pod: issue_node_cert(ca, pod, node_names(pod, service, namespace), now) for pod in pods}
    return ClusterCredentials(ca.cert_pem, nodes, issue_client_cert(ca, now), ca.not_after)


def credentials_from_files(files: dict[str, bytes], pods: list[str]) -> ClusterCredentials:
    """Credentials read back from their files (an earlier render): `ca.crt`, `<pod>.crt/.key`, launcher."""
    try:
        ca = x509.load_pem_x509_certificate(files["ca.crt"])
        nodes = {pod: Issued(files[f"{pod}.crt"], files[f"{pod}.key"]) for pod in pods}
        launcher = Issued(files["launcher.crt"], files["launcher.key"])
        for issued in [*nodes.values(), launcher]:
            serialization.load_pem_private_key(issued.key_pem, password=None)
            if issued.cert.issuer != ca.subject:
                raise ValueError("a certificate not issued by ca.crt")
    except KeyError as exc:
        raise ValueError(f"missing {exc.args[0]}") from None
    return ClusterCredentials(files["ca.crt"], nodes, launcher, ca.not_valid_after_utc)
