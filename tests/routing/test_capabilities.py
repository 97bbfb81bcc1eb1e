"""Locale capabilities: what routing may write and speak in, from the templates or the documented default."""

from __future__ import annotations

import sys

import pytest

from gateway.routing import STATIC_CAPABILITIES, LocaleCapabilities, capabilities_from_rendering


def test_a_regional_tag_uses_its_languages_catalog_without_comment() -> None:
    capabilities = LocaleCapabilities.of(catalogs=("en-GB", "pl"), voices=("pl-PL",))
    assert capabilities.resolve("pl-PL") == ("pl", None)
    assert capabilities.resolve("en") == ("en-GB", None)
    assert capabilities.resolve(None) == ("en-GB", None)


def test_a_language_without_a_catalog_falls_back_to_british_english_with_a_reason() -> None:
    capabilities = LocaleCapabilities.of(catalogs=("en-GB",), voices=())
    assert capabilities.resolve("so") == ("en-GB", "no so templates, en-GB instead")


def test_a_fallback_declared_by_the_templates_is_followed() -> None:
    capabilities = LocaleCapabilities.of(catalogs=("en-GB", "pt"), voices=(), fallbacks={"pt-BR": "pt"})
    assert capabilities.resolve("pt-BR") == ("pt", None)


def test_voices_match_on_the_language_so_urdu_and_somali_have_none() -> None:
    for capabilities in (STATIC_CAPABILITIES, capabilities_from_rendering()):
        assert capabilities.has_voice("pl") and capabilities.has_voice("en-GB")
        assert not capabilities.has_voice("so") and not capabilities.has_voice("ur")


def test_without_the_rendering_package_the_documented_static_default_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gateway.rendering", None)  # import now raises ImportError
    assert capabilities_from_rendering() is STATIC_CAPABILITIES
