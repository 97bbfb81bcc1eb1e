"""Log tags for phone numbers and e-mail addresses are keyed (HMAC-SHA256 with the instance's secret key):
the same address gives the same tag within one install, and a leaked log cannot be reversed by hashing every
possible phone number."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from gateway.config import get_settings
from gateway.logging_setup import redact

NUMBER = "+447700900123"


def use_secret(monkeypatch: pytest.MonkeyPatch, key: str | None, var_dir: Path) -> None:
    if key is None:
        monkeypatch.delenv("GATEWAY_SECRET_KEY", raising=False)
    else:
        monkeypatch.setenv("GATEWAY_SECRET_KEY", key)
    monkeypatch.setenv("GATEWAY_VAR_DIR", str(var_dir))
    get_settings.cache_clear()


def test_redact_is_keyed_hmac(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_secret(monkeypatch, "first-instance-secret", tmp_path)
    tag = redact(NUMBER)
    expected = hmac.new(b"first-instance-secret", NUMBER.encode(), hashlib.sha256).hexdigest()[:10]
    assert tag == f"phone:{expected}"
    assert tag != "phone:" + hashlib.sha256(NUMBER.encode()).hexdigest()[:10]  # not the old, reversible tag
    assert redact(" " + NUMBER + " ") == tag  # stable within the instance
    assert redact("Anna.Nowak@Example.org") == redact("anna.nowak@example.org")
    assert redact("anna.nowak@example.org").startswith("email:")
    assert redact(None) == "-"

    use_secret(monkeypatch, "another-instance-secret", tmp_path)
    assert redact(NUMBER) != tag  # another install, another key: tags do not match across installs
    get_settings.cache_clear()


def test_redact_uses_the_generated_key_when_none_is_configured(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    use_secret(monkeypatch, None, tmp_path / "var")
    tag = redact(NUMBER)
    key = (tmp_path / "var" / "secret_key").read_text().strip()
    assert tag == "phone:" + hmac.new(key.encode(), NUMBER.encode(), hashlib.sha256).hexdigest()[:10]
    assert redact(NUMBER) == tag
    get_settings.cache_clear()
