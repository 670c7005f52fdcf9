"""refcount.debug: get_debug_info() and print_debug_info(), text for bug
reports: interpreter, platform, package versions and REFCOUNT* environment
variables (and no others)."""

import platform
import sys

import cffi
import gi
import pytest

from refcount.debug import get_debug_info, print_debug_info


@pytest.fixture
def marked_env(monkeypatch):
    monkeypatch.setenv("REFCOUNT_TEST_MARKER", "marker-value-8d41")
    monkeypatch.setenv("RCTEST_NOT_REFCOUNT_VAR", "unrelated-value-5e27")


def test_get_debug_info_is_text():
    info = get_debug_info()
    assert isinstance(info, str)
    assert info.strip()


def test_get_debug_info_names_the_interpreter_and_platform():
    info = get_debug_info()
    assert platform.python_version() in info
    assert sys.platform in info.lower()


def test_get_debug_info_has_package_versions():
    info = get_debug_info()
    assert cffi.__version__ in info
    assert gi.__version__ in info


def test_get_debug_info_lists_refcount_variables_only(marked_env):
    info = get_debug_info()
    assert "REFCOUNT_TEST_MARKER" in info
    assert "marker-value-8d41" in info
    assert "RCTEST_NOT_REFCOUNT_VAR" not in info
    assert "unrelated-value-5e27" not in info


def test_print_debug_info_prints_the_same_text(marked_env, capfd):
    expected = get_debug_info()
    assert print_debug_info() is None
    out, err = capfd.readouterr()
    assert expected.strip() in out
    assert "marker-value-8d41" in out
