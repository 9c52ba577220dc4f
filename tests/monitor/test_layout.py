"""The pure subpackages of monitor/ stay pure: no Kafka, faust, HTTP or MLflow, and nothing
from the worker, imported directly or through what they import."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import monitor

PURE = ("monitor.drift", "monitor.state", "monitor.merging")
FORBIDDEN = ("confluent_kafka", "aiokafka", "faust", "mode", "mlflow", "httpx", "fastapi",
             "monitor.worker")
ROOT = Path(monitor.__file__).parent


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("package", PURE)
def test_a_pure_subpackage_imports_no_io_library(package: str) -> None:
    folder = ROOT / package.split(".", 1)[1]
    found = {f"{path.name}: {name}" for path in folder.glob("*.py") for name in _imports(path)
             if _forbidden(name)}
    assert not found


def test_importing_the_pure_subpackages_loads_no_io_library() -> None:
    script = (
        "import importlib, json, pkgutil, sys\n"
        f"for package in {PURE!r}:\n"
        "    module = importlib.import_module(package)\n"
        "    for info in pkgutil.iter_modules(module.__path__):\n"
        "        importlib.import_module(f'{package}.{info.name}')\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                         text=True, timeout=120)
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert [name for name in loaded if _forbidden(name)] == []
