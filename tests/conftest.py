"""Shared fixtures: a real DuckDB file in tmp_path loaded from sample_data/, users
of each role, and a real aiosmtpd capture server on 127.0.0.1."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from commstui.config import Settings
from commstui.delivery.capture import CaptureServer
from commstui.services import activation, auth, mail_settings, setup
from commstui.services.context import Context
from commstui.services.mail_settings import MailServerForm

# documented demo passwords (sample_data/users.json)
PASSWORDS = {"admin": "admin-demo-1", "viewer": "viewer-demo-1", "operator": "operator-demo-1"}


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path, monkeypatch):
    """No developer config, secrets or database can leak into a test."""
    monkeypatch.setenv("COMMSTUI_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("COMMSTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("COMMSTUI_DB", raising=False)


@pytest.fixture
def settings() -> Settings:
    # short waits so tests that exercise retries stay fast
    return Settings(busy_timeout=5.0, dispatch_interval=0.2, smtp_timeout=5.0)


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "commstui.duckdb"


# argon2id with cheap parameters: at the production cost each hash or check takes ~0.13 s
# of CPU, and most tests log in once or more (about a minute of the suite on 2 cores). The
# algorithm and every code path stay the same; a hash carries its parameters, so even a
# subprocess verifies the sample users' hashes at this cost (and upgrades them on login).
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def _use_hashing(patch: pytest.MonkeyPatch, fast: bool = True) -> None:
    for module in (auth, activation):
        if fast:
            patch.setattr(module, "_hasher", FAST_HASHER)
        patch.setattr(module, "_dummy_hash", None)  # made again with the hasher in use


@pytest.fixture(autouse=True)
def _fast_password_hashing(request, monkeypatch):
    _use_hashing(monkeypatch, fast=request.node.get_closest_marker("real_argon2") is None)


@pytest.fixture(scope="session")
def sample_template(tmp_path_factory) -> Path:
    """The sample database, built once per run, and most tests need a fresh copy of it."""
    path = tmp_path_factory.mktemp("template") / "sample.duckdb"
    with pytest.MonkeyPatch.context() as patch:
        _use_hashing(patch)
        setup.init(Context.open(path, Settings(busy_timeout=5.0)), sample=True)
    return path


@pytest.fixture
def ctx(db_path, settings, sample_template) -> Context:
    for part in sample_template.parent.glob(sample_template.name + "*"):  # the file, and a WAL if any
        shutil.copyfile(part, db_path.parent / part.name.replace(sample_template.name, db_path.name))
    return Context.open(db_path, settings)


@pytest.fixture
def admin(ctx):
    return auth.login(ctx, "admin", PASSWORDS["admin"])


@pytest.fixture
def operator(ctx):
    return auth.login(ctx, "operator", PASSWORDS["operator"])


@pytest.fixture
def viewer(ctx):
    return auth.login(ctx, "viewer", PASSWORDS["viewer"])


@pytest.fixture
def capture(tmp_path):
    """A running capture SMTP server on 127.0.0.1; .outbox holds what it received."""
    with CaptureServer(tmp_path / "outbox") as server:
        yield server


@pytest.fixture
def mail_server(ctx, admin, capture):
    """The capture server configured as the active mail server."""
    return mail_settings.save_server(ctx, admin, MailServerForm(
        host="127.0.0.1", port=capture.port, security="none", from_addr="office@commstui.example"))
