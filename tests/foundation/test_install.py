"""The package works when installed from a wheel: templates, locales and config are found outside the
source tree, and the ``gateway`` command runs from another directory."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    return next(out.glob("parent_gateway-*.whl"))


def test_wheel_carries_the_data_folders(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("gateway/_data/templates/") for n in names)
    assert any(n.startswith("gateway/_data/locales/") for n in names)
    assert any(n.startswith("gateway/_data/config/") for n in names)
    assert any(n.startswith("gateway/migrations/versions/") for n in names)
    assert any(n.startswith("channels/") for n in names)


def test_installed_wheel_runs_from_another_directory(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target), "GATEWAY_DATABASE_URL": f"sqlite:///{workdir / 'gw.db'}"}
    env.pop("GATEWAY_CONFIG", None)
    where = subprocess.run(
        [sys.executable, "-c", "import gateway.resources as r; print(r.templates_dir()); print(r.config_dir())"],
        cwd=workdir, env=env, check=True, capture_output=True, text=True,
    ).stdout.split()
    assert all(path.startswith(str(target)) for path in where), where
    upgraded = subprocess.run(
        [sys.executable, "-c", "from gateway.cli.main import main; main()", "db", "upgrade"],
        cwd=workdir, env=env, capture_output=True, text=True,
    )
    assert upgraded.returncode == 0, upgraded.stderr
    assert (workdir / "gw.db").exists()
