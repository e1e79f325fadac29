"""The CLI reaches the archive through the storage seam: of ingest.archive it imports only the opener modules
(ingest.archive.sqlite; ingest.archive.postgres, only for a postgresql:// --db; ingest.archive.location, which
opens either by --db's form) and the commands that are
SQLite-file specific by nature (serve, backup, and publish, which writes a SQLite file from a PostgreSQL archive)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = {"ingest.archive.sqlite", "ingest.archive.postgres", "ingest.archive.location", "ingest.archive.serve",
           "ingest.archive.backup", "ingest.archive.publish"}


def archive_imports(path: Path) -> set[str]:
    """Every ingest.archive module `path` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("ingest.archive")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "ingest.archive" or node.module == "ingest":
                prefix = f"{node.module}."
                found |= {prefix + alias.name for alias in node.names
                          if (prefix + alias.name).startswith("ingest.archive")}
            elif node.module.startswith("ingest.archive"):
                found.add(node.module)
    return found


def test_the_cli_imports_of_the_archive_only_the_sqlite_module() -> None:
    imported = archive_imports(ROOT / "ingest" / "cli.py")
    assert "ingest.archive.sqlite" in imported
    assert imported <= ALLOWED, f"ingest/cli.py imports {sorted(imported - ALLOWED)}: go through ingest.storage"


def test_the_check_sees_every_form_of_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import ingest.archive.store\nfrom ingest.archive import report, sqlite\n"
                      "from ingest import archive\ndef f():\n    from ingest.archive.export import FORMATS\n",
                      encoding="utf-8")
    assert archive_imports(module) == {"ingest.archive.store", "ingest.archive.report", "ingest.archive.sqlite",
                                       "ingest.archive", "ingest.archive.export"}


def test_the_cli_imports_no_database_driver() -> None:
    tree = ast.parse((ROOT / "ingest" / "cli.py").read_text(encoding="utf-8"))
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert not {n for n in names if n.split(".")[0] in ("sqlite3", "sqlite_utils", "psycopg")}
    assert "sqlite_utils" not in ast.unparse(tree)  # nor names its Database
