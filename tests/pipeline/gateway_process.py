"""Run a ``gateway`` command in a child process with the test stand-ins the parent asked for.

``python -m tests.pipeline.gateway_process scheduler`` behaves like ``gateway scheduler``; the environment
variable ``PIPELINE_TEST_STANDINS`` (comma-separated) installs stand-ins first:

* ``render``: the fake renderer (test_scheduler's ladder asserts on its predictable text).

The reconciler's provider lookup is the product's own (``TwilioSmsChannel.find_sent`` against the sandbox):
no stand-in for it.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace


def install(standins: list[str]) -> None:
    """Install the named stand-ins in this process."""
    from gateway.pipeline import ports

    unknown = set(standins) - {"render"}
    if unknown:
        raise SystemExit(f"unknown PIPELINE_TEST_STANDINS: {', '.join(sorted(unknown))}")
    if "render" in standins:
        from tests.pipeline.conftest import fake_render

        ports.install(replace(ports.current(), render=fake_render))


def main() -> None:
    install([s for s in os.environ.get("PIPELINE_TEST_STANDINS", "").split(",") if s])
    from gateway.cli.main import main as gateway_main

    gateway_main(sys.argv[1:])


if __name__ == "__main__":
    main()
