"""Trust anchors for ``InitializeCluster``: a customer CA that signs the cluster's CSR.

On real AWS the cluster's certificate signing request must be signed for real
(``cryptography`` does it, with a fresh CA per cluster, so every cluster lineage has its own
trust anchor, CL-06). An emulator that shows no CSR gets a placeholder anchor instead: a
PEM-shaped text, unique per cluster, which it takes as given.
"""

from __future__ import annotations

import datetime
import hashlib


def placeholder_anchor(cluster: str, seed: int) -> tuple[str, str]:
    """``(signed_cert, trust_anchor)`` for a target that does not check certificates."""
    tag = hashlib.sha256(f"{seed}:{cluster}".encode()).hexdigest()[:32]
    return (f"-----BEGIN CERTIFICATE-----\nckspec-cluster-{tag}\n-----END CERTIFICATE-----",
            f"-----BEGIN CERTIFICATE-----\nckspec-ca-{tag}\n-----END CERTIFICATE-----")


def sign_cluster_csr(csr_pem: str) -> tuple[str, str]:
    """Sign a cluster CSR with a fresh CA: ``(signed_cert, trust_anchor)`` as PEM. A CSR that
    is not real PEM (some emulators return a placeholder) gets a placeholder anchor."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        return placeholder_anchor(csr_pem, 0)
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode())
    except ValueError:
        return placeholder_anchor(csr_pem, 0)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ckspec test CA")])
    now = datetime.datetime.now(datetime.UTC)
    later = now + datetime.timedelta(days=30)
    ca = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(later)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(name).public_key(csr.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(later)
            .sign(key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return cert.public_bytes(pem).decode(), ca.public_bytes(pem).decode()
