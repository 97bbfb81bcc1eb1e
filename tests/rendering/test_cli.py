"""`gateway render` and `gateway templates check` (the commands, run through click)."""

from __future__ import annotations

import json
from email import message_from_string
from pathlib import Path
from xml.etree import ElementTree

import click
from click.testing import CliRunner

from gateway.cli.templates import register, render_command
from gateway.errors import InputError


def _cli() -> click.Group:
    root = click.Group("gateway")
    groups = {"templates": click.Group("templates")}
    root.add_command(groups["templates"])
    register(root, groups)
    return root


def test_render_sms_prints_the_text_and_notes_segments_on_stderr() -> None:
    result = CliRunner().invoke(render_command, ["absence_first_day", "--locale", "pl", "--channel", "sms"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("St Mary's Church of England Primary School: ")
    assert "segment(s), UCS-2" in result.stderr


def test_render_voice_prints_twiml_with_the_locale_voice() -> None:
    result = CliRunner().invoke(render_command, ["absence_first_day", "--locale", "ro", "--channel", "voice"])
    assert result.exit_code == 0, result.output
    root = ElementTree.fromstring(result.stdout.strip())
    says = root.findall(".//Say")
    assert says and all(s.get("language") == "ro-RO" and s.get("voice") == "Polly.Carmen" for s in says)
    assert root.find(".//Gather") is not None


def test_render_voice_for_somali_is_refused_with_a_clear_line() -> None:
    result = CliRunner().invoke(render_command, ["absence_first_day", "--locale", "so", "--channel", "voice"])
    assert isinstance(result.exception, InputError)
    assert "no Twilio voice speaks so" in str(result.exception)


def test_render_email_prints_an_rfc5322_message() -> None:
    result = CliRunner().invoke(render_command, ["fresh_start", "--locale", "ur", "--channel", "email",
                                                 "--variant", "plain"])
    assert result.exit_code == 0, result.output
    message = message_from_string(result.stdout)
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.get_payload()] == ["text/plain", "text/html"]  # type: ignore[union-attr]


def test_render_with_a_context_file(tmp_path: Path) -> None:
    context = {"school": {"name": "Oakfield Primary", "phone": "0161 496 0000", "staff_name": "Mr Khan"},
               "recipient": {"title": "Mrs", "forename": "Anna", "surname": "Nowak"},
               "pupils": [{"forename": "Zofia", "surname": "Nowak"}], "date": "2026-11-24", "days_absent": 2}
    path = tmp_path / "context.json"
    path.write_text(json.dumps(context))
    result = CliRunner().invoke(render_command, ["absence_continuing", "--locale", "pl", "--channel", "sms",
                                                 "--context", str(path)])
    assert result.exit_code == 0, result.output
    assert "Oakfield Primary: Zofia - to już 2 dni nieobecności." in result.stdout


def test_render_with_a_context_file_missing_a_value_names_it(tmp_path: Path) -> None:
    path = tmp_path / "context.json"
    path.write_text(json.dumps({"school": {"name": "Oakfield", "phone": "1", "staff_name": "Mr Khan"},
                                "recipient": {"forename": "Anna", "surname": "Nowak"},
                                "pupils": [{"forename": "Zofia", "surname": "Nowak"}], "date": "2026-11-24"}))
    result = CliRunner().invoke(render_command, ["absence_continuing", "--channel", "sms", "--context", str(path)])
    assert isinstance(result.exception, InputError)
    assert "days_absent" in str(result.exception) and str(path) in str(result.exception)


def test_templates_check_json_lists_segments_per_kind_locale_variant() -> None:
    result = CliRunner().invoke(_cli(), ["templates", "check", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is True and document["problems"] == []
    row = next(r for r in document["sms"] if (r["kind"], r["locale"], r["variant"]) == ("fresh_start", "pl", "plain"))
    assert row["encoding"] == "UCS-2" and 1 <= row["segments"] <= 3
