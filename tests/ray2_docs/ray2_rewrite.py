"""Turn a Ray 2.x script into a tunelab one by changing its imports only, and prove that nothing else
changed: the two programs, with every import statement taken out, have the same syntax tree.

The map is the one docs/migrating.md gives ("Ray 2.x documentation scripts that run unchanged").
"""
from __future__ import annotations

import ast
import re

#: Ray module -> tunelab module, longest first (a module not listed here makes `rewrite` fail loudly)
MODULES = [
    ("ray.tune.integration.pytorch_lightning", "tunelab.integrations.pytorch_lightning"),
    ("ray.tune.integration.xgboost", "tunelab.integrations.xgboost"),
    ("ray.tune.integration.lightgbm", "tunelab.integrations.lightgbm"),
    ("ray.tune.integration.keras", "tunelab.integrations.keras"),
    ("ray.tune.schedulers", "tunelab.schedulers"),
    ("ray.tune.search", "tunelab.search"),
    ("ray.tune.stopper", "tunelab.stopper"),
    ("ray.train.lightning", "tunelab.train.lightning"),
    ("ray.train.torch", "tunelab.train.torch"),
    ("ray.train", "tunelab.train"),
    ("ray.tune", "tunelab"),
]


def _module(name: str) -> str:
    for ray_name, ours in MODULES:
        if name == ray_name or name.startswith(ray_name + "."):
            return ours + name[len(ray_name):]
    raise ValueError(f"no tunelab module for {name!r}: add it to MODULES (and to docs/migrating.md)")


def _rewrite_statement(node: ast.stmt, text: str) -> str:
    """The tunelab form of one import statement (`text` is its source, indentation stripped)."""
    if isinstance(node, ast.ImportFrom) and node.module == "ray":  # from ray import tune, train
        parts = []
        for alias in node.names:
            if alias.name == "tune":
                parts.append(f"import tunelab as {alias.asname or 'tune'}")
            elif alias.name == "train":
                parts.append("from tunelab import train" + (f" as {alias.asname}" if alias.asname else ""))
            else:
                raise ValueError(f"no tunelab name for 'from ray import {alias.name}'")
        return "; ".join(parts)
    if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ray."):
        return re.sub(r"^from\s+" + re.escape(node.module) + r"\b", "from " + _module(node.module), text)
    if isinstance(node, ast.Import) and any(a.name == "ray" or a.name.startswith("ray.") for a in node.names):
        parts = []
        for alias in node.names:
            if alias.name == "ray":  # `ray.init(...)` becomes tunelab.init(...)
                parts.append(f"import tunelab as {alias.asname or 'ray'}")
            elif alias.name.startswith("ray."):
                if alias.asname is None:
                    raise ValueError(f"'import {alias.name}' without 'as': rewrite it by hand")
                parts.append(f"import {_module(alias.name)} as {alias.asname}")
            else:
                parts.append(f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else ""))
        return "; ".join(parts)
    return text


def rewrite(source: str) -> str:
    """`source` with every Ray import statement replaced by its tunelab form (line by line)."""
    lines = source.splitlines(keepends=True)
    imports = [n for n in ast.walk(ast.parse(source)) if isinstance(n, (ast.Import, ast.ImportFrom))]
    for node in sorted(imports, key=lambda n: n.lineno, reverse=True):
        first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
        text = "".join(lines[first:last + 1])
        indent = text[:len(text) - len(text.lstrip())]
        body = " ".join(part.strip().rstrip("\\") for part in text.strip().splitlines())
        new = _rewrite_statement(node, " ".join(body.split()))
        if new != " ".join(body.split()):
            lines[first:last + 1] = [indent + new + "\n"]
    return "".join(lines)


class _DropImports(ast.NodeTransformer):
    def visit_Import(self, node: ast.Import) -> None:
        return None

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        return None


def without_imports(source: str) -> str:
    """The program's syntax tree with every import statement taken out (no line numbers)."""
    return ast.dump(_DropImports().visit(ast.parse(source)), include_attributes=False)


def import_lines(source: str) -> list[str]:
    """The changed import statements' source, for a readable diff in the test's output."""
    return [ast.get_source_segment(source, n) or "" for n in ast.walk(ast.parse(source))
            if isinstance(n, (ast.Import, ast.ImportFrom))]
