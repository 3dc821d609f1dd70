"""The cluster PKI: certificates checked as X.509 values, and used in real stdlib TLS 1.3 handshakes."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from recapp.errors import ClusterError
from recapp.k8s import pki

# Now (to the second, as certificates keep it): the handshakes below check validity against the clock.
NOW = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
PODS = ["demo-node-0", "demo-node-1"]


@pytest.fixture(scope="module")
def creds() -> pki.ClusterCredentials:
    return pki.cluster_credentials("demo", PODS, "demo-nodes", "recapp-demo", 30, NOW)


def _dns_names(cert: x509.Certificate) -> list[str]:
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    )


def _ou(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value)


def test_node_cert_names_every_way_to_reach_the_pod(creds: pki.ClusterCredentials) -> None:
    cert = creds.nodes["demo-node-1"].cert
    assert _dns_names(cert) == [
        "demo-node-1",
        "demo-node-1.demo-nodes",
        "demo-node-1.demo-nodes.recapp-demo",
        "demo-node-1.demo-nodes.recapp-demo.svc",
        "demo-node-1.demo-nodes.recapp-demo.svc.cluster.local",
    ]
    assert _ou(cert) == "node"
    usages = list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert usages == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]


def test_launcher_cert_is_a_client_only_identity(creds: pki.ClusterCredentials) -> None:
    cert = creds.launcher.cert
    assert _ou(cert) == "launcher"
    usages = list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert usages == [ExtendedKeyUsageOID.CLIENT_AUTH]
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)


def test_lifetimes_end_with_the_cluster(creds: pki.ClusterCredentials) -> None:
    ca = x509.load_pem_x509_certificate(creds.ca_pem)
    end = NOW + datetime.timedelta(days=30)
    assert ca.not_valid_after_utc == end == creds.not_after
    for issued in [*creds.nodes.values(), creds.launcher]:
        assert issued.cert.not_valid_after_utc == end
        assert issued.cert.not_valid_before_utc == NOW - datetime.timedelta(minutes=5)
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert (constraints.ca, constraints.path_length) == (True, 0)


def test_ca_key_is_not_handed_out(creds: pki.ClusterCredentials) -> None:
    # Nothing in the credentials is the CA's key: only the certificate travels to the cluster.
    blobs = [creds.ca_pem, creds.launcher.cert_pem, creds.launcher.key_pem]
    blobs += [b for i in creds.nodes.values() for b in (i.cert_pem, i.key_pem)]
    assert sum(b"PRIVATE KEY" in b for b in blobs) == len(PODS) + 1
    assert b"PRIVATE KEY" not in creds.ca_pem


@pytest.mark.parametrize("days", [0, 366])
def test_lifetime_out_of_range_is_refused(days: int) -> None:
    with pytest.raises(ClusterError, match="certificate lifetime must be at"):
        pki.make_ca("demo", days, NOW)


def test_node_without_names_is_refused() -> None:
    with pytest.raises(ClusterError, match="no DNS names"):
        pki.issue_node_cert(pki.make_ca("demo", 1, NOW), "demo-node-0", [])


# --- real handshakes with the standard library (what the node programs use) -----------------------


def _write(tmp: Path, name: str, data: bytes) -> str:
    path = tmp / name
    path.write_bytes(data)
    return str(path)


def _server_ctx(tmp: Path, creds: pki.ClusterCredentials, pod: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(_write(tmp, "ca.crt", creds.ca_pem))
    node = creds.nodes[pod]
    ctx.load_cert_chain(_write(tmp, f"{pod}.crt", node.cert_pem), _write(tmp, f"{pod}.key", node.key_pem))
    return ctx


def _client_ctx(tmp: Path, ca_pem: bytes, issued: pki.Issued | None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(_write(tmp, "client-ca.crt", ca_pem))
    if issued is not None:
        ctx.load_cert_chain(_write(tmp, "c.crt", issued.cert_pem), _write(tmp, "c.key", issued.key_pem))
    return ctx


def _handshake(server: ssl.SSLContext, client: ssl.SSLContext, server_name: str) -> tuple[str, str]:
    """(client outcome, server outcome): 'ok' + peer OU, or the error's class name."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    result: dict[str, str] = {}

    def serve() -> None:
        conn, _ = listener.accept()
        try:
            with server.wrap_socket(conn, server_side=True) as tls:
                peer = tls.getpeercert() or {}
                ou = dict(x[0] for x in peer.get("subject", ()))["organizationalUnitName"]
                tls.sendall(b"x")
                result["server"] = f"ok {ou}"
        except (ssl.SSLError, OSError) as error:
            result["server"] = type(error).__name__

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            client.wrap_socket(raw, server_hostname=server_name) as tls,
        ):
            got = tls.recv(1)  # TLS 1.3: a refused client certificate shows on the first read
            client_outcome = "ok" if got == b"x" else "closed"
    except (ssl.SSLError, OSError) as error:
        client_outcome = type(error).__name__
    thread.join(5)
    listener.close()
    return client_outcome, result.get("server", "?")


def test_launcher_reaches_the_node_it_named(tmp_path: Path, creds: pki.ClusterCredentials) -> None:
    server = _server_ctx(tmp_path, creds, "demo-node-0")
    client = _client_ctx(tmp_path, creds.ca_pem, creds.launcher)
    assert _handshake(server, client, "demo-node-0.demo-nodes") == ("ok", "ok launcher")


def test_launcher_refuses_a_node_answering_for_another(tmp_path: Path, creds: pki.ClusterCredentials) -> None:
    server = _server_ctx(tmp_path, creds, "demo-node-1")  # node 1's certificate behind node 0's name
    client = _client_ctx(tmp_path, creds.ca_pem, creds.launcher)
    outcome, _ = _handshake(server, client, "demo-node-0.demo-nodes")
    assert outcome == "SSLCertVerificationError"


def test_client_without_certificate_is_refused(tmp_path: Path, creds: pki.ClusterCredentials) -> None:
    server = _server_ctx(tmp_path, creds, "demo-node-0")
    client = _client_ctx(tmp_path, creds.ca_pem, None)
    outcome, server_outcome = _handshake(server, client, "demo-node-0")
    assert outcome != "ok"
    assert server_outcome == "SSLError"


def test_another_clusters_launcher_is_refused(tmp_path: Path, creds: pki.ClusterCredentials) -> None:
    other = pki.cluster_credentials("other", ["other-node-0"], "other-nodes", "recapp-other", 1, NOW)
    server = _server_ctx(tmp_path, creds, "demo-node-0")
    # It even trusts our CA, so only its own certificate is wrong.
    client = _client_ctx(tmp_path, creds.ca_pem, other.launcher)
    outcome, server_outcome = _handshake(server, client, "demo-node-0")
    assert outcome != "ok"
    assert server_outcome == "SSLCertVerificationError"
