"""Provenance: the evidence travels with the image.

`build --gate-report F --sign` attests the gate report to the pushed digest and signs it with
cosign (signing.py); `deploy` and `rollback` verify the target digest against `deploy.verify`
before anything changes (release_check.py -> verify.py, policy.py). Only cosign.py runs cosign;
statements.py reads what it prints.
"""
