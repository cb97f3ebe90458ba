"""The declared dependencies, the imports and the two lock files stay in step."""

from __future__ import annotations

import ast
import sys
from importlib import metadata
from pathlib import Path

import pytest
import tomli
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PRODUCT_PACKAGES = ("bot", "actions", "rasa_ext")
DEV_ONLY = {"pytest", "selenium", "mypy", "ruff", "schemathesis", "hypothesis", "import-linter"}


def _pyproject() -> dict:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return tomli.load(handle)


def _declared(group: str | None = None) -> dict[str, Requirement]:
    project = _pyproject()["project"]
    specs = project["dependencies"] if group is None else project["optional-dependencies"][group]
    return {canonicalize_name(r.name): r for r in map(Requirement, specs)}


def _lock(name: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            package, version = line.split("==")
            pins[canonicalize_name(package)] = version
    return pins


def _third_party_imports() -> dict[str, str]:
    """Top-level module → one file importing it, for imports outside the stdlib and product."""
    found: dict[str, str] = {}
    for package in PRODUCT_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in PRODUCT_PACKAGES:
                        found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def _distributions_by_module() -> dict[str, set[str]]:
    """Top-level module → the installed distributions whose files provide it."""
    owners: dict[str, set[str]] = {}
    for dist in metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"])
        for file in dist.files or []:
            top = file.parts[0]
            if top.endswith((".dist-info", ".egg-info", ".data")) or top in ("..", "__pycache__"):
                continue
            owners.setdefault(top.removesuffix(".py").split(".")[0], set()).add(name)
    return owners


def test_every_imported_package_is_declared():
    distributions = _distributions_by_module()
    declared = _declared()
    undeclared = {}
    for module, where in _third_party_imports().items():
        owners = distributions.get(module, set())
        assert owners, f"{module} (imported in {where}) is not installed by any distribution"
        if not owners & declared.keys():
            undeclared[module] = (where, sorted(owners))
    assert not undeclared, f"imported but not in [project] dependencies: {undeclared}"


def test_every_declared_dependency_is_pinned_within_its_range():
    runtime = _lock("requirements.lock")
    for name, requirement in _declared().items():
        assert name in runtime, f"{requirement} is declared but not in requirements.lock"
        assert requirement.specifier.contains(runtime[name], prereleases=True), (
            f"requirements.lock pins {name}=={runtime[name]}, outside {requirement}"
        )
    dev = _lock("requirements-dev.lock")
    for name, requirement in _declared("dev").items():
        assert name in dev, f"{requirement} is a dev dependency but not in requirements-dev.lock"
        assert requirement.specifier.contains(dev[name], prereleases=True)


def test_the_runtime_lock_is_the_dev_lock_without_the_tools():
    runtime, dev = _lock("requirements.lock"), _lock("requirements-dev.lock")
    differing = {n: (v, dev.get(n)) for n, v in runtime.items() if dev.get(n) != v}
    assert not differing, f"pinned differently in the two locks: {differing}"
    assert not DEV_ONLY & runtime.keys(), (
        f"dev tools in the runtime lock: {DEV_ONLY & runtime.keys()}"
    )


@pytest.mark.parametrize("lock", ["requirements.lock", "requirements-dev.lock"])
def test_each_lock_holds_everything_its_packages_need(lock):
    """Installed with --no-deps, a lock missing a requirement would break at import time."""
    pins = _lock(lock)
    missing = {}
    for name in pins:
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            pytest.fail(f"{name} from {lock} is not installed in this environment")
        for spec in map(Requirement, requires):
            wanted = canonicalize_name(spec.name)
            if spec.marker is not None and not spec.marker.evaluate({"extra": ""}):
                continue
            if wanted not in pins and wanted != "pip":
                missing.setdefault(name, []).append(str(spec))
    assert not missing, f"{lock} lacks requirements of: {missing}"
