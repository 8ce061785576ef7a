"""The one credential stripper: every message and log line that may hold a URI goes through
`redact` (errors do so in `mlci.errors.MlciError`; `strip_credentials` is the same rule for
one URI).

What it removes: the user-info of every ``scheme://user:password@host`` in the text (the
last ``@`` before the host ends it: a password may hold an unescaped ``@``), and the values
of the credential variables MLflow reads (``MLFLOW_TRACKING_PASSWORD``,
``MLFLOW_TRACKING_TOKEN``) wherever they appear verbatim.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

_AUTHORITY = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<authority>[^/?#\s]*)")
SECRET_VARIABLES = ("MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")
MASK = "***"


def _strip_userinfo(match: re.Match[str]) -> str:
    return match["scheme"] + match["authority"].rpartition("@")[2]


def redact(text: str, env: Mapping[str, str] | None = None) -> str:
    """`text` without credentials: user-info of URLs, and the values of secret variables."""
    if not text:
        return text
    if "@" in text:
        text = _AUTHORITY.sub(_strip_userinfo, text)
    environ = os.environ if env is None else env
    for name in SECRET_VARIABLES:
        secret = environ.get(name, "")
        if len(secret) >= 4 and secret in text:   # shorter ones would mask ordinary words
            text = text.replace(secret, MASK)
    return text


def strip_credentials(uri: str | None) -> str:
    """A URI fit for a log line or an error message (`https://user:secret@host/x` ->
    `https://host/x`); an unset URI is named as MLflow's default."""
    if not uri:
        return "(MLflow's default tracking URI)"
    return redact(uri)
