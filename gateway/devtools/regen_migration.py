"""Regenerate the initial Alembic revision from the models (pre-release only).

Until the first release there is a single revision, ``0001_initial``; after a model change run
``python -m gateway.devtools.regen_migration``. Once a school runs the gateway, add revisions instead.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command

from gateway.migrate import MIGRATIONS_DIR, alembic_config


def main() -> None:
    versions = MIGRATIONS_DIR / "versions"
    for old in versions.glob("*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'empty.db'}"
        command.revision(alembic_config(url), message="initial schema", autogenerate=True, rev_id="0001")
    print("regenerated", *sorted(p.name for p in versions.glob("*.py")))


if __name__ == "__main__":
    main()
