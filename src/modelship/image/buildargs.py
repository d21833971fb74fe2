"""image.build_args: the build's ARG values. A generated Dockerfile declares each one, so the
install step sees them as environment variables: pip's own settings (PIP_FIND_LINKS,
PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_ONLY_BINARY, ...) point it at a private index or a
directory of wheels built elsewhere, with no Dockerfile of one's own.

The engine records the build args a RUN step used in the image's history (`docker history`
shows them, and the registry keeps them with the image): a URL carrying credentials would ship
with the image, so it is refused before anything is built, and never printed.
"""

from __future__ import annotations

import re

from modelship.config import Config

# scheme://userinfo@ : a user, a token or user:password in front of the host
_CREDENTIALS = re.compile(r"\b([a-z][a-z0-9+.-]*://)[^/\s@]+@", re.I)


def hide_credentials(value: str) -> str:
    """`value` with the userinfo of each URL in it replaced by ***."""
    return _CREDENTIALS.sub(r"\1***@", value)


def read(cfg: Config) -> dict[str, str]:
    """image.build_args as strings; ConfigError (exit 2) naming the arg when a value is a URL
    with credentials in it."""
    args = {str(k): str(v) for k, v in cfg.get_mapping("image.build_args", {}).items()}
    for name, value in args.items():
        if _CREDENTIALS.search(value):
            msg = (f"'{hide_credentials(value)}' carries credentials in its URL: build args "
                   "are recorded in the image's history (docker history), so they would ship "
                   "with the image")
            raise cfg.error(f"image.build_args.{name}", msg,
                            hint="give the build an index or a wheel directory it reads "
                                 "without credentials (e.g. served on 127.0.0.1 and reached "
                                 "through image.network: host)")
    return args
