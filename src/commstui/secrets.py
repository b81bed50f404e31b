"""Where SMTP (and later SMS) passwords live: never in the database.

A password reference is either ``env:VAR`` (read from the environment at send
time) or ``secret:KEY`` (a key in secrets.json in the user config dir, mode 0600).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .config import config_dir


class SecretError(Exception):
    pass


def secrets_file() -> Path:
    return config_dir() / "secrets.json"


def _load() -> dict[str, str]:
    path = secrets_file()
    if not path.exists():
        return {}
    return json.loads(path.read_text("utf-8"))


def store_secret(key: str, value: str) -> str:
    """Save value under key in the 0600 secrets file; returns the reference to keep."""
    path = secrets_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = _load()
    data[key] = value
    tmp = path.with_suffix(".tmp")
    # create with 0600 from the start so the secret is never world-readable
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)
    os.chmod(path, 0o600)
    return f"secret:{key}"


def resolve(ref: str | None) -> str | None:
    if not ref:
        return None
    kind, _, name = ref.partition(":")
    if kind == "env":
        value = os.environ.get(name)
        if value is None:
            raise SecretError(f"Environment variable {name} (mail server password) is not set")
        return value
    if kind == "secret":
        data = _load()
        if name not in data:
            raise SecretError(f"No secret named {name!r} in {secrets_file()}")
        return data[name]
    raise SecretError(f"Unknown password reference {ref!r} (expected env:VAR or secret:KEY)")
