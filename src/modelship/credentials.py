"""Registry credentials: read from the environment (the action maps its `registry-username` /
`registry-password` inputs there) and masked before anything can print them."""

from __future__ import annotations

import os

from modelship import ghactions

USER_VARIABLE = "MODELSHIP_REGISTRY_USER"
PASSWORD_VARIABLE = "MODELSHIP_REGISTRY_PASSWORD"  # noqa: S105 - a variable name, not a password


def registry() -> tuple[str, str]:
    """(user, password); empty strings when unset."""
    password = os.environ.get(PASSWORD_VARIABLE, "")
    ghactions.mask(password)
    return os.environ.get(USER_VARIABLE, ""), password
