"""The package's shape, checked with `ast` so it stays true: stages import one way, no
import cycles (function-level imports included), pure models do no I/O, modules small."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "hlsd"
MAX_LINES = 300

# stage -> the stages its modules may import (besides themselves and the leaves)
ALLOWED = {
    "config": set(),
    "ingest": {"config"},
    "encode": {"config", "ingest"},
    "media": {"config"},
    "publish": {"config", "encode", "media"},
    "serve": {"config", "media", "publish"},
    "service": {"config", "ingest", "encode", "media", "publish", "serve"},
    "top": {"config", "ingest", "encode", "media", "publish", "serve", "service"},
}
# What a pure model must not touch: processes, files, sockets, the event loop, clocks.
IO_MODULES = {"os", "io", "subprocess", "socket", "asyncio", "shutil", "time", "pathlib",
              "aiohttp", "asyncssh", "aioftp", "aiobotocore", "structlog", "tempfile"}


def modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = modules()


def imports(name: str) -> set[str]:
    """Every module `name` imports, wherever in the file (hlsd modules resolved)."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names
                       if f"{node.module}.{a.name}" in MODULES)
    return out


def stage(name: str) -> str:
    parts = name.split(".")
    if len(parts) > 1 and parts[1] in ALLOWED:
        return parts[1]
    # Leaves: used by every stage, importing nothing of hlsd but the config's redaction.
    return "leaf" if name in ("hlsd.backoff", "hlsd.child") else "top"


def hlsd_imports(name: str) -> set[str]:
    return {m for m in imports(name) if m in MODULES and m != name}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_stages_import_one_way(name: str) -> None:
    mine = stage(name)
    allowed = ALLOWED.get(mine, set(ALLOWED)) | {mine, "leaf"}
    wrong = {m for m in hlsd_imports(name) if m != "hlsd" and stage(m) not in allowed}
    assert not wrong, f"{name} ({mine}) imports {sorted(wrong)}"


def test_no_import_cycles() -> None:
    graph = {name: hlsd_imports(name) - {"hlsd"} for name in MODULES}
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            # A package's __init__ re-exporting its own modules is not a cycle of logic.
            if nxt.startswith(node + "."):
                continue
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(
                    [*path[path.index(nxt):], nxt]))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


@pytest.mark.parametrize("name", sorted(n for n in MODULES if stage(n) == "media"))
def test_pure_models_do_no_io(name: str) -> None:
    used = {m.split(".")[0] for m in imports(name)} & IO_MODULES
    assert not used, f"{name} imports {sorted(used)}"


@pytest.mark.parametrize("name", ["hlsd.config.errors", "hlsd.config.model",
                                  "hlsd.config.secret"])
def test_config_model_and_errors_import_nothing_of_hlsd(name: str) -> None:
    assert hlsd_imports(name) <= {"hlsd.config.secret"}, name


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_stay_small(name: str) -> None:
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{name}: {lines} lines"
