"""Request signatures against the vectors of the twilio package's own tests (twilio-python,
tests/unit/test_request_validator.py): plain form, a repeated key, the port variants, and a JSON body signed
through ``bodySHA256``. The form is passed the way the webhook now passes it: a list of (name, value) pairs."""

from __future__ import annotations

import pytest

from channels.twilio_signature import SignedForm, body_hash, compute_signature, is_valid_signature

TOKEN = "12345"
URI = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = [("CallSid", "CA1234567890ABCDE"), ("Digits", "1234"), ("From", "+14158675309"), ("To", "+18005551212"),
          ("Caller", "+14158675309")]
EXPECTED = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
BODY = '{"property": "value", "boolean": true}'
BODY_HASH = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
BODY_SIGNATURE = "a9nBmqA0ju/hNViExpshrM61xv4="
DUPLICATES = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]
DUPLICATE_EXPECTED = "IK+Dwps556ElfBT0I3Rgjkr1wJU="


def test_the_documented_vector_signs_and_validates() -> None:
    assert compute_signature(TOKEN, URI, PARAMS) == EXPECTED
    assert compute_signature(TOKEN, URI, dict(PARAMS)) == EXPECTED  # a plain mapping still works
    assert is_valid_signature(TOKEN, URI, PARAMS, EXPECTED)


def test_a_repeated_key_is_signed_with_every_value_sorted() -> None:
    assert compute_signature(TOKEN, URI, DUPLICATES) == DUPLICATE_EXPECTED
    assert is_valid_signature(TOKEN, URI, DUPLICATES, DUPLICATE_EXPECTED)
    # The same values in the other order sign the same (Twilio sorts them); a duplicate pair is dropped.
    reordered = [DUPLICATES[3], DUPLICATES[1], DUPLICATES[2], DUPLICATES[0], DUPLICATES[2]]
    assert is_valid_signature(TOKEN, URI, reordered, DUPLICATE_EXPECTED)
    # Flattened to one value per key (what a dict does) it is another request: refused.
    assert not is_valid_signature(TOKEN, URI, dict(DUPLICATES), DUPLICATE_EXPECTED)
    assert not is_valid_signature(TOKEN, URI, DUPLICATES[:3], DUPLICATE_EXPECTED)


def test_the_multi_dict_gives_every_value_of_a_name() -> None:
    form = SignedForm(DUPLICATES)
    assert list(form) == ["Sid", "SidAccount", "Digits"] and len(form) == 3
    assert form.getall("Digits") == ["5678", "1234"]


@pytest.mark.parametrize(
    ("uri", "signature"),
    [
        (URI.replace(".com", ".com:1234"), EXPECTED),  # https: the port is removed
        (URI.replace(".com", ".com:1234").replace("https", "http"), "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="),  # http, 1234
        (URI, "kvajT1Ptam85bY51eRf/AJRuM3w="),  # https: signed with :443 added
        (URI.replace("https", "http"), "0ZXoZLH/DfblKGATFgpif+LLRf4="),  # http: signed with :80 added
    ],
)
def test_the_port_variants_twilio_signs_with_are_accepted(uri: str, signature: str) -> None:
    assert is_valid_signature(TOKEN, uri, PARAMS, signature)
    assert not is_valid_signature(TOKEN, uri, PARAMS[:-1], signature)


def test_a_json_body_is_checked_through_body_sha256() -> None:
    uri = URI + "&bodySHA256=" + BODY_HASH
    assert body_hash(BODY) == BODY_HASH
    assert is_valid_signature(TOKEN, uri, BODY, BODY_SIGNATURE)


@pytest.mark.parametrize(
    ("uri", "body", "signature"),
    [
        (URI + "&bodySHA256=" + BODY_HASH, BODY.replace("value", "other"), BODY_SIGNATURE),  # body changed
        (URI + "&bodySHA256=" + "0" * 64, BODY, BODY_SIGNATURE),  # hash in the URL changed
        (URI, BODY, BODY_SIGNATURE),  # a raw body without bodySHA256: nothing signs it
        (URI + "&bodySHA256=" + BODY_HASH, BODY, "not-a-signature"),
        (URI + "&bodySHA256=" + BODY_HASH, "", BODY_SIGNATURE),
    ],
)
def test_a_json_body_that_does_not_match_is_false_never_an_error(uri: str, body: str, signature: str) -> None:
    assert is_valid_signature(TOKEN, uri, body, signature) is False

