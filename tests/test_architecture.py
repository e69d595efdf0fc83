"""The package as it installs: one top-level name, everything it needs inside, and the
arrows of docs/architecture.md kept.

The wheel is built from the checkout as `pip install` would build it, offline, and
looked at as a user's site-packages would hold it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# Where each installed package's files are in the checkout (pyproject's package-dir).
FOLDERS = PYPROJECT["tool"]["setuptools"]["package-dir"]
# Offline, with the build backend the test extras install.
_PIP_WHEEL = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    # From a copy: setuptools builds in the source's build/ folder, where files of an
    # older layout would linger and be packed.
    source = tmp_path_factory.mktemp("source") / "libfed"
    shutil.copytree(ROOT, source, ignore=_not_sources)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [*_PIP_WHEEL, "--wheel-dir", str(out), str(source)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("libfed-*.whl")
    return zipfile.ZipFile(built)


def _not_sources(folder: str, names: list[str]) -> set[str]:
    """What a build must not see: the venv, caches, earlier builds, benchmark data."""
    where = Path(folder).relative_to(ROOT).as_posix()
    skipped = {".venv", ".git", "build", "var", "artifacts", "__pycache__"}
    skipped |= {n for n in names if n.endswith(".egg-info") or n.startswith(".")}
    if where == "bench":
        skipped.add("data")
    return skipped & set(names)


def _checkout_files(suffixes: tuple[str, ...]) -> set[str]:
    """Every file with these suffixes under an installed package's folder, by its
    installed name (oai/xml.py -> libfed/oai/xml.py)."""
    names = set()
    for package, folder in FOLDERS.items():
        base = ROOT / folder
        nested = [ROOT / f for p, f in FOLDERS.items() if p.startswith(package + ".")]
        for path in base.rglob("*"):
            if path.suffix not in suffixes or "__pycache__" in path.parts:
                continue
            if any(path.is_relative_to(inner) for inner in nested):
                continue
            names.add(package.replace(".", "/") + "/" + path.relative_to(base).as_posix())
    return names


def test_the_wheel_installs_one_top_level_package(wheel: zipfile.ZipFile) -> None:
    tops = {name.split("/")[0] for name in wheel.namelist()}
    assert tops == {"libfed", "libfed-0.1.0.dist-info"}
    top_level = wheel.read("libfed-0.1.0.dist-info/top_level.txt").decode().split()
    assert top_level == ["libfed"]


def test_the_wheel_holds_every_module_template_translation_and_schema(
    wheel: zipfile.ZipFile,
) -> None:
    held = set(wheel.namelist())
    wanted = _checkout_files((".py", ".html", ".css", ".js", ".svg", ".xsl", ".xsd", ".mo", ".ttf"))
    wanted |= {"libfed/root/demo/data/libfed_demo.xml", "libfed/schemas/catalog.xml"}
    wanted |= {"libfed/web/fonts/LICENSE"}  # the bundled fonts' licence travels with them
    assert wanted - held == set()
    assert {"libfed/oai/endpoint.py", "libfed/harvest/templates/harvest/source.html"} <= held


def test_packages_import_only_along_the_allowed_arrows(
    wheel: zipfile.ZipFile, tmp_path: Path
) -> None:
    """import-linter, with the contract in pyproject.toml, on the installed layout."""
    site = tmp_path / "site"
    wheel.extractall(site)
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("lint-imports")),
            "--no-cache",
            str(ROOT / "pyproject.toml"),
        ],
        cwd=site,
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "1 kept, 0 broken" in result.stdout
