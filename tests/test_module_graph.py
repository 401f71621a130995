"""Layering of tunelab's modules, read from their import statements (lazy imports included): no import
cycle between analysis and progress, and storage never reads results through the analysis layer."""
import ast
import pathlib

import tunelab

SRC = pathlib.Path(tunelab.__file__).resolve().parent


def _imports(relative):
    """Every tunelab module that the file at `relative` (under src/tunelab) imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse((SRC / relative).read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("tunelab")}


def test_analysis_and_progress_do_not_import_each_other_both_ways():
    assert "tunelab.progress" not in _imports("analysis.py")


def test_storage_does_not_import_the_analysis_reader():
    for path in sorted((SRC / "storage").glob("*.py")):
        assert "tunelab.analysis" not in _imports(path.relative_to(SRC)), path.name


def test_the_driver_path_to_a_first_result_stays_free_of_heavy_modules():
    """What tune.run loads before it starts a trial (the API, the analysis layer it returns, the default
    loggers, storage's code) imports none of these: each costs 0.1-0.5 s in the driver before the first
    result (numpy and tensorboardX come with the HParams summary when a trial ends)."""
    import subprocess
    import sys

    code = ("import sys, tunelab, tunelab.analysis, tunelab.storage.sync, tunelab.storage.trial_files\n"
            "from tunelab.loggers import default_loggers\n"
            "default_loggers()\n"
            "heavy = ('numpy', 'pandas', 'tensorboardX', 'google.protobuf', 'boto3', 'botocore', 'fsspec', 'torch')\n"
            "print(sorted(m for m in heavy if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
