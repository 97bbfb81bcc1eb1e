"""Shared fixtures for the rendering tests: the realistic long-name contexts."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.rendering import build_context, sample_context

LONG_SCHOOL = {"name": "St Mary's Church of England Primary School", "phone": "01632 960123",
               "staff_name": "Mrs Oluwaseun Adeyemi-Clarke"}
PARENT = {"title": "Mrs", "forename": "Grace", "surname": "Fitzgerald-Okonkwo"}
AMELIA = {"forename": "Amelia-Rose", "surname": "Fitzgerald-Okonkwo"}
YUSUF = {"forename": "Yusuf", "surname": "Fitzgerald-Okonkwo"}


@pytest.fixture
def siblings_context() -> Any:
    """``siblings_context(kind, **overrides)``: two siblings, long names, the kind's sample values."""

    def make(kind: str, **overrides: Any) -> dict[str, Any]:
        context = sample_context(kind)
        context.update(overrides)
        return context

    return make


def single_child_context(kind: str, **kind_values: Any) -> dict[str, Any]:
    values = dict(sample_context(kind))
    for key in ("school", "recipient", "pupils", "date"):
        values.pop(key)
    values.update(kind_values)
    return build_context(kind, school=LONG_SCHOOL, recipient=PARENT, pupils=[AMELIA], date="2026-11-23", **values)
