"""The package ships py.typed and the annotations of its native types
(refcount/_core.pyi): a type checker (mypy, Debian's) accepts code written
for pyrefcount, and catches misuse through those annotations."""

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_PYTHON = os.path.join(os.path.dirname(HERE), "python")


def run_mypy(sample):
    env = dict(os.environ, MYPYPATH=SOURCE_PYTHON)
    process = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", os.devnull,
         "--ignore-missing-imports", "--follow-imports=normal",
         os.path.join(HERE, "typing", sample)],
        env=env, capture_output=True, text=True, timeout=300)
    return process.returncode, process.stdout + process.stderr


def test_the_package_is_marked_typed():
    for name in ("py.typed", "_core.pyi"):
        assert os.path.isfile(os.path.join(SOURCE_PYTHON, "refcount", name)), name


def test_pyrefcount_style_code_type_checks():
    status, output = run_mypy("pyrefcount_style.py")
    assert status == 0, output


@pytest.fixture(scope="module")
def wrong_types_report():
    return run_mypy("wrong_types.py")


@pytest.mark.parametrize("line", [
    'ReferenceCounter(prior_ref_count="1")',
    "CffiNativeHandle(None, type_id=3)",
    "count: str = handle.reference_count",
    "DeletableCffiNativeHandle(None)",
    "handle.add_ref(1)",
])
def test_misuse_is_caught(line, wrong_types_report):
    status, output = wrong_types_report
    assert status == 1, output
    with open(os.path.join(HERE, "typing", "wrong_types.py")) as sample:
        number = [i for i, text in enumerate(sample.read().splitlines(), 1) if line in text]
    assert len(number) == 1, line
    assert "wrong_types.py:%d: error" % number[0] in output, (line, output)
