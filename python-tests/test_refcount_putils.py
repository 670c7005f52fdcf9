"""refcount.putils, as in pyrefcount 1.2.x: library file names, finding a
library, and search path variables.  Environment variables are set with
monkeypatch (restored after each test); none of these functions may change
the environment on Linux."""

import ctypes.util
import os
import sys
import warnings

import pytest

from refcount.putils import (
    _win_architecture,
    augment_path_env,
    build_new_path_env,
    find_full_path,
    library_short_filename,
    update_path_windows,
)

TO_ENV = "RC_TEST_PUTILS_TO"
FROM_ENV = "RC_TEST_PUTILS_FROM"


@pytest.mark.parametrize(
    "platform, expected",
    [("linux", "libdog.so"), ("win32", "dog.dll"), ("darwin", "libdog.dylib")],
)
def test_library_short_filename(platform, expected):
    assert library_short_filename("dog", platform) == expected
    assert library_short_filename("dog", platform=platform) == expected


def test_library_short_filename_defaults_to_the_running_platform():
    assert sys.platform == "linux"
    assert library_short_filename("dog") == "libdog.so"
    assert library_short_filename("dog", None) == "libdog.so"


@pytest.mark.parametrize("platform", ["sunos5", "freebsd13", "cygwin", ""])
def test_library_short_filename_other_platforms_are_not_implemented(platform):
    with pytest.raises(NotImplementedError):
        library_short_filename("dog", platform)


def test_library_short_filename_none_name_raises_value_error():
    with pytest.raises(ValueError):
        library_short_filename(None)
    with pytest.raises(ValueError):
        library_short_filename(None, "linux")


def test_find_full_path_none():
    assert find_full_path(None) is None
    assert find_full_path(None, "/usr") is None


@pytest.mark.parametrize("libdir", ["lib", "lib64", "libexec"])
def test_find_full_path_under_prefix(libdir, tmp_path):
    (tmp_path / libdir).mkdir()
    (tmp_path / libdir / "librctestdog.so").write_bytes(b"")
    assert find_full_path("rctestdog", str(tmp_path)) == os.path.join(str(tmp_path), libdir, "librctestdog.so")
    assert find_full_path("rctestdog", prefix=str(tmp_path)) == os.path.join(
        str(tmp_path), libdir, "librctestdog.so")


def test_find_full_path_falls_back_to_ctypes_find_library(tmp_path):
    expected = ctypes.util.find_library("c")
    assert expected == "libc.so.6"
    assert find_full_path("c", str(tmp_path)) == expected


def test_find_full_path_not_found(tmp_path):
    (tmp_path / "lib").mkdir()
    assert find_full_path("rc_no_such_library_xyz", str(tmp_path)) is None


def test_find_full_path_default_prefix_is_sys_prefix(tmp_path, monkeypatch):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "librctestdog.so").write_bytes(b"")
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    assert find_full_path("rctestdog") == os.path.join(str(tmp_path), "lib", "librctestdog.so")


@pytest.fixture
def dirs(tmp_path):
    a = tmp_path / "a"
    b = tmp_path / "b"
    missing = tmp_path / "missing"
    (a / "64").mkdir(parents=True)
    (a / "32").mkdir(parents=True)
    b.mkdir()
    return str(a), str(b), str(missing)


def test_augment_path_env_appends_existing_paths(dirs, monkeypatch):
    a, b, missing = dirs
    monkeypatch.setenv(TO_ENV, "current")
    result = augment_path_env([a, missing, b], to_env=TO_ENV)
    assert result == os.pathsep.join(["current", a, b])
    assert os.environ[TO_ENV] == "current"


def test_augment_path_env_prepends(dirs, monkeypatch):
    a, b, missing = dirs
    monkeypatch.setenv(TO_ENV, "current")
    assert augment_path_env([a, b], to_env=TO_ENV, prepend=True) == os.pathsep.join([a, b, "current"])


def test_augment_path_env_accepts_a_string(dirs, monkeypatch):
    a, b, missing = dirs
    monkeypatch.setenv(TO_ENV, "current")
    assert augment_path_env(a, to_env=TO_ENV) == os.pathsep.join(["current", a])
    assert augment_path_env(missing, to_env=TO_ENV) == "current"


def test_augment_path_env_with_subfolder(dirs, monkeypatch):
    a, b, missing = dirs
    monkeypatch.setenv(TO_ENV, "current")
    # b has no "64" subfolder: dropped.
    assert augment_path_env([a, b], subfolder="64", to_env=TO_ENV) == os.pathsep.join(
        ["current", os.path.join(a, "64")])
    for empty in (None, ""):
        assert augment_path_env([a], subfolder=empty, to_env=TO_ENV) == os.pathsep.join(["current", a])


def test_augment_path_env_defaults_to_path(dirs, monkeypatch):
    a, b, missing = dirs
    monkeypatch.setenv("PATH", "/usr/bin")
    assert augment_path_env([a]) == os.pathsep.join(["/usr/bin", a])


def test_augment_path_env_unset_variable_counts_as_empty(dirs, monkeypatch):
    a, b, missing = dirs
    monkeypatch.delenv(TO_ENV, raising=False)
    result = augment_path_env([a, b], to_env=TO_ENV)
    assert result.strip(os.pathsep) == os.pathsep.join([a, b])
    assert TO_ENV not in os.environ


def test_build_new_path_env(dirs, monkeypatch):
    a, b, missing = dirs
    monkeypatch.setenv(FROM_ENV, os.pathsep.join([a, missing, b]))
    monkeypatch.setenv(TO_ENV, "current")
    assert build_new_path_env(FROM_ENV, TO_ENV) == os.pathsep.join(["current", a, b])
    assert build_new_path_env(FROM_ENV, TO_ENV, "linux") == os.pathsep.join(["current", a, b])
    assert os.environ[TO_ENV] == "current"


def test_build_new_path_env_on_windows_uses_the_architecture_subfolder(dirs, monkeypatch):
    a, b, missing = dirs
    arch = _win_architecture("win32")
    assert arch in ("64", "32")
    monkeypatch.setenv(FROM_ENV, os.pathsep.join([a, b]))
    monkeypatch.setenv(TO_ENV, "current")
    # b has neither a "64" nor a "32" subfolder.
    assert build_new_path_env(FROM_ENV, TO_ENV, "win32") == os.pathsep.join(["current", os.path.join(a, arch)])


def test_build_new_path_env_defaults(dirs, monkeypatch):
    a, b, missing = dirs
    monkeypatch.setenv("LIBRARY_PATH", a)
    monkeypatch.setenv("PATH", "/usr/bin")
    assert build_new_path_env() == os.pathsep.join(["/usr/bin", a])


@pytest.mark.parametrize("to_value", ["current", None])
def test_build_new_path_env_warns_when_from_env_is_unset(to_value, monkeypatch, capfd):
    monkeypatch.delenv(FROM_ENV, raising=False)
    if to_value is None:
        monkeypatch.delenv(TO_ENV, raising=False)
    else:
        monkeypatch.setenv(TO_ENV, to_value)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = build_new_path_env(FROM_ENV, TO_ENV)
    out, err = capfd.readouterr()
    assert result == (to_value or "")
    messages = [out + err] + [str(w.message) for w in caught]
    assert any(FROM_ENV in m and TO_ENV in m for m in messages), messages


def test_update_path_windows_does_nothing_elsewhere(dirs, monkeypatch, capfd):
    a, b, missing = dirs
    monkeypatch.setenv(FROM_ENV, a)
    monkeypatch.setenv(TO_ENV, "current")
    before = dict(os.environ)
    assert update_path_windows(FROM_ENV, TO_ENV) is None
    update_path_windows()
    assert dict(os.environ) == before
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_win_architecture():
    assert _win_architecture() == ""
    assert _win_architecture("linux") == ""
    assert _win_architecture("darwin") == ""
    assert _win_architecture("win32") in ("64", "32")
