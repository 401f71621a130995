"""Packaging as users expect: the sdist and wheel carry the license and the metadata, the version is
written once, and `tunelab --version` / `python -m tunelab` work."""
import os
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser

import pytest

import tunelab

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_version_is_written_in_one_place():
    from tunelab._version import __version__

    assert tunelab.__version__ == __version__
    with open(os.path.join(ROOT, "pyproject.toml")) as f:
        pyproject = f.read()
    assert 'dynamic = ["version"]' in pyproject and f'"{__version__}"' not in pyproject


def test_python_dash_m_and_version_flag():
    for command in ([sys.executable, "-m", "tunelab", "--version"],
                    [os.path.join(os.path.dirname(sys.executable), "tunelab"), "--version"]):
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"tunelab {tunelab.__version__}"
    done = subprocess.run([sys.executable, "-m", "tunelab", "ls", "/nonexistent/folder"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.startswith("tunelab: error:")


@pytest.mark.timeout(300)
def test_sdist_and_wheel_ship_the_license_and_metadata(tmp_path):
    pytest.importorskip("build")
    done = subprocess.run([sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(tmp_path), ROOT],
                          capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    [wheel] = [p for p in os.listdir(tmp_path) if p.endswith(".whl")]
    [sdist] = [p for p in os.listdir(tmp_path) if p.endswith(".tar.gz")]
    assert wheel.startswith(f"tunelab-{tunelab.__version__}-") and sdist == f"tunelab-{tunelab.__version__}.tar.gz"

    with zipfile.ZipFile(tmp_path / wheel) as whl:
        names = whl.namelist()
        [metadata_name] = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(whl.read(metadata_name).decode())
        assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
        assert "tunelab/py.typed" in names and "tunelab/__main__.py" in names
        for page_file in ("dashboard.html", "dashboard.js", "dashboard.css"):  # the dashboard page (docs/dashboard.md)
            assert f"tunelab/server/static/{page_file}" in names
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata["Version"] == tunelab.__version__
    classifiers = metadata.get_all("Classifier")
    assert "Programming Language :: Python :: 3.11" in classifiers and "Typing :: Typed" in classifiers
    assert any(url.startswith("Documentation, ") for url in metadata.get_all("Project-URL"))

    with tarfile.open(tmp_path / sdist) as tar:
        members = tar.getnames()
    assert f"tunelab-{tunelab.__version__}/LICENSE" in members
    with open(os.path.join(ROOT, "LICENSE")) as f:
        assert "Apache License" in f.read(200)
