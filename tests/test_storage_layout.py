"""Every name of a file or folder tunelab persists is defined in one module, tunelab.storage.layout:
a string literal elsewhere in src/ that looks like one of those names fails this test."""
import ast
import pathlib
import re

import tunelab.storage.layout as layout

SRC = pathlib.Path(layout.__file__).resolve().parents[1]
OWNER = pathlib.Path(layout.__file__).resolve()

# a name with a persisted kind of extension, a bare such extension, or one of the extensionless names
# (".json" / ".yaml" alone are the extensions of config files the CLI reads, not of files tunelab writes)
_FILE_NAME = re.compile(r"[\w.<>{}*-]+\.(json|jsonl|csv|txt|pkl|torn|tmp)|\.(jsonl|csv|txt|pkl|torn|tmp)")
#: literals that look like file names but are not files: routes of the REST API
_NOT_FILES = {"openapi.json"}
_OTHER_NAMES = re.compile(
    r"lock|\.tunelab|\.tune_metadata|checkpoint_(\d*|\{.*)|events\.out\.tfevents.*|\.tmp_.*|\.old_.*")


def _docstrings(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                yield body[0].value


def _file_name_literals(path):
    tree = ast.parse(path.read_text(), str(path))
    skip = {id(node) for node in _docstrings(tree)}
    for node in ast.walk(tree):
        literal = isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
        if literal and node.value not in _NOT_FILES and (_FILE_NAME.fullmatch(node.value)
                                                         or _OTHER_NAMES.fullmatch(node.value)):
            yield node.lineno, node.value


def test_file_names_are_literals_only_in_the_layout_module():
    found = [f"{path.relative_to(SRC)}:{line}: {value!r}"
             for path in sorted(SRC.rglob("*.py")) if path.resolve() != OWNER
             for line, value in _file_name_literals(path)]
    assert not found, "file names outside tunelab/storage/layout.py:\n" + "\n".join(found)


def test_the_check_sees_a_literal(tmp_path):
    """The scan itself finds file names as code writes them (so an empty finding above means something)."""
    sample = tmp_path / "sample.py"
    sample.write_text('"""Writes `result.json`."""\nA = "result.json"\nB = f"checkpoint_{3}"\nC = ".tmp"\n'
                      'D = "lock"\nE = "events.out.tfevents.1"\n')
    assert sorted(value for _, value in _file_name_literals(sample)) == [
        ".tmp", "checkpoint_", "events.out.tfevents.1", "lock", "result.json"]
