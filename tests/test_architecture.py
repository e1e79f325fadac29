"""The import contracts in pyproject.toml ([tool.importlinter]): each layer imports only the layers below it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from ingest.clean.adapters import ADAPTERS

ROOT = Path(__file__).resolve().parent.parent


def lint_imports(*args: str) -> subprocess.CompletedProcess[str]:
    """lint-imports (the one installed next to this Python) run from the repository root, without a cache."""
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert command, "lint-imports not found: pip install -e '.[test]'"
    return subprocess.run([command, "--no-logo", "--no-cache", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)


def test_the_imports_keep_every_contract() -> None:
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout, result.stdout


def test_a_broken_contract_fails(tmp_path: Path) -> None:
    # An import that exists (the cleaning stage reads ingest.models), forbidden: lint-imports must say so.
    contract = tmp_path / ".importlinter"
    contract.write_text("[importlinter]\nroot_package = ingest\n\n[importlinter:contract:deliberate]\n"
                        "name = Deliberately broken\ntype = forbidden\nsource_modules = ingest.clean.parse\n"
                        "forbidden_modules = ingest.models\n", encoding="utf-8")
    result = lint_imports(str(contract))
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Deliberately broken BROKEN" in result.stdout, result.stdout
    assert "ingest.clean.parse -> ingest.models" in result.stdout, result.stdout


def test_the_module_table_in_docs_how_it_works_names_every_module() -> None:
    """docs/how-it-works.md's table follows the folders: a module added, moved or renamed must be named there."""
    page = (ROOT / "docs" / "how-it-works.md").read_text(encoding="utf-8")
    table = page[page.index("| module | stage |"):]
    package = ROOT / "ingest"
    outlets = {cls.__module__.rpartition(".")[2] for cls in ADAPTERS.values()} | {"base"}  # "one per outlet"
    missing = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        if path.name in ("__init__.py", "__main__.py"):
            continue
        if relative.parts[:2] == ("clean", "adapters"):
            named = f"`{path.name}`" in table or (path.stem in outlets and "one small module per outlet" in table)
        elif len(relative.parts) == 1:
            named = f"ingest/{relative}" in table
        else:
            named = str(relative) in table
        if not named:
            missing.append(str(relative))
    assert not missing, f"modules docs/how-it-works.md's table does not name: {missing}"
