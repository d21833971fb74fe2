"""`deploy.verify` (and `environments.NAME.verify`): what a digest must carry before deploy or
rollback may touch the cluster.

```yaml
deploy:
  verify:
    signature: required        # required | optional | off
    key: cosign.pub            # a public key file (relative to modelship.yaml), env://VAR, or a
                               # KMS URI cosign understands ...
    identity:                  # ... or keyless: the signing workflow's OIDC identity
      issuer: https://token.actions.githubusercontent.com
      subject: https://github.com/org/repo/.github/workflows/cd.yml@refs/heads/main
                               # (a subject starting with ^ is a regular expression)
    gate: passed               # passed | off: a gate attestation whose report passed
    tlog: false                # also require a transparency-log entry (default: keyless only)
```
Without `deploy.verify` nothing is checked (signature: off, gate: off).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from modelship.config import Config, suggest

SIGNATURE_MODES = ("required", "optional", "off")
GATE_MODES = ("passed", "off")
KEYS = ("signature", "key", "identity", "gate", "tlog")
IDENTITY_KEYS = ("issuer", "subject")


@dataclass(frozen=True)
class Identity:
    issuer: str
    subject: str


@dataclass(frozen=True)
class Policy:
    signature: str = "off"
    gate: str = "off"
    key: str | None = None  # as cosign takes it: a path made absolute, env://..., kms://...
    identity: Identity | None = None
    tlog: bool = False
    where: str = "deploy.verify"  # the config key it came from, for messages

    @property
    def enabled(self) -> bool:
        return self.signature != "off" or self.gate != "off"

    @property
    def signer(self) -> str:
        if self.identity is not None:
            return f"keyless {self.identity.subject} ({self.identity.issuer})"
        return f"key {self.key}" if self.key else "no key"


def _node(cfg: Config, environment: str | None) -> tuple[str, Mapping[str, Any]] | None:
    """The verify mapping in force: the environment's (merged over deploy's), else deploy's."""
    base_key = "deploy.verify"
    base = cfg.raw(base_key, None)
    env_key = f"environments.{environment}.verify" if environment else None
    override = cfg.raw(env_key, None) if env_key else None
    for key, value in ((base_key, base), (env_key, override)):
        if value is not None and not isinstance(value, Mapping):
            raise cfg.error(str(key), "expected a mapping (signature, key, identity, gate, tlog)")
    if override is not None and env_key:
        return env_key, {**(base or {}), **override}
    return (base_key, base) if base is not None else None


def load(cfg: Config, environment: str | None) -> Policy:
    found = _node(cfg, environment)
    if found is None:
        return Policy()
    where, node = found
    for name in node:
        if name not in KEYS:
            raise cfg.error(f"{where}.{name}", f"unknown key; expected one of "
                            f"{', '.join(KEYS)}", hint=suggest(str(name), KEYS))
    signature = _choice(cfg, where, node, "signature", SIGNATURE_MODES, "required")
    gate = _choice(cfg, where, node, "gate", GATE_MODES, "passed")
    key = _key(cfg, where, node.get("key"))
    identity = _identity(cfg, where, node.get("identity"))
    if key and identity:
        raise cfg.error(f"{where}.identity", "set either key (a key pair) or identity "
                        "(keyless), not both")
    if (signature != "off" or gate != "off") and not key and not identity:
        raise cfg.error(where, f"signature: {signature} and gate: {gate} need a signer to "
                        "check against: set key (e.g. cosign.pub) or identity {issuer, "
                        "subject}", hint="or set signature: off and gate: off")
    tlog = node.get("tlog", identity is not None)
    if not isinstance(tlog, bool):
        raise cfg.error(f"{where}.tlog", f"expected true or false, got {tlog!r}")
    return Policy(signature, gate, key, identity, tlog, where)


def _choice(cfg: Config, where: str, node: Mapping[str, Any], name: str,
            choices: tuple[str, ...], default: str) -> str:
    value = node.get(name, default)
    if value is False:  # YAML `off` is the boolean false
        value = "off"
    if not isinstance(value, str) or value not in choices:
        raise cfg.error(f"{where}.{name}", f"expected one of {', '.join(choices)}, got "
                        f"{value!r}", hint=suggest(str(value), choices))
    return value


def _key(cfg: Config, where: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise cfg.error(f"{where}.key", "expected a public key: a file such as cosign.pub, "
                        "env://VARIABLE, or a KMS URI")
    text = value.strip()
    if "://" in text:
        return text
    path = (cfg.root / text) if not text.startswith("/") else cfg.root.joinpath(text)
    if not path.is_file():
        raise cfg.error(f"{where}.key", f"{path} does not exist",
                        hint="commit the public key (cosign.pub) next to modelship.yaml")
    return str(path)


def _identity(cfg: Config, where: str, value: object) -> Identity | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise cfg.error(f"{where}.identity", "expected a mapping {issuer, subject}")
    for name in value:
        if name not in IDENTITY_KEYS:
            raise cfg.error(f"{where}.identity.{name}", "unknown key; expected issuer or "
                            "subject", hint=suggest(str(name), IDENTITY_KEYS))
    fields = {}
    for name in IDENTITY_KEYS:
        item = value.get(name)
        if not isinstance(item, str) or not item.strip():
            raise cfg.error(f"{where}.identity.{name}", "missing; expected a string",
                            hint="issuer: https://token.actions.githubusercontent.com, subject:"
                                 " https://github.com/ORG/REPO/.github/workflows/FILE@REF")
        fields[name] = item.strip()
    return Identity(**fields)


__all__ = ["GATE_MODES", "SIGNATURE_MODES", "Identity", "Policy", "load"]
