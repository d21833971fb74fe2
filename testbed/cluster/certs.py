"""The cluster's PKI, made locally with `cryptography`: a CA, the API server's serving
certificate, client certificates for the admin and the control-plane components, and the
service-account signing key. Also the kubeconfigs that use them."""

from __future__ import annotations

import base64
import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVICE_CIDR = "10.96.0.0/16"
KUBERNETES_SERVICE_IP = "10.96.0.1"  # the first address of SERVICE_CIDR
APISERVER_NAMES = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                   "kubernetes.default.svc.cluster.local")
# user -> organisation (group); RBAC binds the system:* users to their roles by default
CLIENTS = {
    "admin": ("kubernetes-admin", "system:masters"),
    "controller-manager": ("system:kube-controller-manager", None),
    "scheduler": ("system:kube-scheduler", None),
    # the API server's identity towards kubelets (`kubectl logs/exec`)
    "kubelet-client": ("kube-apiserver-kubelet-client", None),
    # RBAC's default binding system:node-proxier names this user
    "kube-proxy": ("system:kube-proxy", None),
}
VALID_FOR = datetime.timedelta(days=30)


@dataclass(frozen=True)
class Pki:
    directory: Path

    def cert(self, name: str) -> Path:
        return self.directory / f"{name}.crt"

    def key(self, name: str) -> Path:
        return self.directory / f"{name}.key"

    @property
    def sa_public(self) -> Path:
        return self.directory / "sa.pub"

    @property
    def sa_private(self) -> Path:
        return self.directory / "sa.key"


def _name(common_name: str, organisation: str | None = None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organisation:
        parts.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    return x509.Name(parts)


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _issue(subject: x509.Name, key: ec.EllipticCurvePrivateKey,
           issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
           *, ca: bool = False, server: bool = False, sans: list[x509.GeneralName] | None = None,
           ) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    issuer_cert, issuer_key = issuer if issuer else (None, key)
    builder = (x509.CertificateBuilder()
               .subject_name(subject)
               .issuer_name(issuer_cert.subject if issuer_cert else subject)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + VALID_FOR)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                          content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, encipher_only=False,
                          decipher_only=False), critical=True)
    else:
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write_cert(cert: x509.Certificate, path: Path) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _load_ca(pki: Pki) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate(pki.cert("ca").read_bytes())
    key = serialization.load_pem_private_key(pki.key("ca").read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)  # we made it
    return cert, key


def issue_client(pki: Pki, name: str, user: str, group: str | None = None) -> None:
    """A client certificate <name>.crt/.key for `user` in `group`, signed by the CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    _write_key(key, pki.key(name))
    _write_cert(_issue(_name(user, group), key, _load_ca(pki)), pki.cert(name))


def issue_server(pki: Pki, name: str, common_name: str, dns: list[str], ips: list[str]) -> None:
    """A serving certificate <name>.crt/.key for these names and addresses."""
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    key = ec.generate_private_key(ec.SECP256R1())
    _write_key(key, pki.key(name))
    _write_cert(_issue(_name(common_name), key, _load_ca(pki), server=True, sans=sans),
                pki.cert(name))


def ensure(directory: Path) -> Pki:
    """Create the PKI in `directory` unless it is already there (a cluster keeps its CA);
    client certificates added to CLIENTS since are issued by the existing CA."""
    pki = Pki(directory)
    if not pki.sa_public.exists():
        _create(pki)
    for name, (user, group) in CLIENTS.items():
        if not pki.cert(name).exists():
            issue_client(pki, name, user, group)
    return pki


def _create(pki: Pki) -> None:
    directory = pki.directory
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _issue(_name("modelship-testbed-ca"), ca_key, None, ca=True)
    _write_key(ca_key, pki.key("ca"))
    _write_cert(ca_cert, pki.cert("ca"))
    issue_server(pki, "apiserver", "kube-apiserver", list(APISERVER_NAMES),
                 ["127.0.0.1", KUBERNETES_SERVICE_IP])
    sa_key = ec.generate_private_key(ec.SECP256R1())
    _write_key(sa_key, pki.sa_private)
    pki.sa_public.write_bytes(sa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def write_kubeconfig(pki: Pki, client: str, server: str, path: Path) -> Path:
    """A self-contained kubeconfig (certificates embedded) for `client` against `server`."""
    def b64(p: Path) -> str:
        return base64.b64encode(p.read_bytes()).decode()

    name = "modelship-testbed"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {
            "server": server, "certificate-authority-data": b64(pki.cert("ca"))}}],
        "users": [{"name": client, "user": {
            "client-certificate-data": b64(pki.cert(client)),
            "client-key-data": b64(pki.key(client))}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": client}}],
        "current-context": name,
        "preferences": {},
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path
