"""What cosign v2.6.5 prints when it refuses, read into "nothing there" / "not valid" / "could
not look". The stderr texts below are cosign's own, captured from the test bed's registry
(unsigned image, another key, no gate attestation) with the public TUF root unreachable."""

from __future__ import annotations

import pytest

from modelship.errors import InfraError
from modelship.provenance import verify
from modelship.provenance.cosign import Run

TUF = ("WARNING: Skipping tlog verification is an insecure practice that lacks transparency and "
       "auditability verification for the signature.\nWARNING: Could not fetch trusted_root.json"
       " from the TUF repository. Continuing with individual targets. Error from TUF: error "
       "getting live trusted root: failed to create TUF client failed to load metadata: tuf "
       "refresh failed: Get \"https://tuf-repo-cdn.sigstore.dev/14.root.json\": dial tcp: lookup"
       " tuf-repo-cdn.sigstore.dev on 10.255.255.53:53: no such host\n")


@pytest.mark.parametrize(("stderr", "kind"), [
    pytest.param(TUF + "Error: no signatures found\nerror during command execution: no "
                 "signatures found\n", "nothing", id="unsigned"),
    pytest.param(TUF + "Error: no matching signatures: invalid signature when validating ASN.1 "
                 "encoded signature\nerror during command execution: no matching signatures: "
                 "invalid signature when validating ASN.1 encoded signature\n", "invalid",
                 id="another-key"),
    pytest.param(TUF + "Error: no matching attestations: accepted signatures do not match "
                 "threshold, Found: 0, Expected 1\n", "nothing", id="no-attestation"),
])
def test_refusals(stderr: str, kind: str) -> None:
    assert verify._classify(Run(10, "", stderr), "signature") == kind


def test_a_registry_refusing_the_login_is_infrastructure() -> None:
    stderr = (TUF + "Error: GET http://localhost:5000/v2/m/manifests/sha256-ab.sig: UNAUTHORIZED:"
              " authentication required\n")
    with pytest.raises(InfraError) as exc:
        verify._classify(Run(1, "", stderr), "signature")
    assert "UNAUTHORIZED" in str(exc.value)
