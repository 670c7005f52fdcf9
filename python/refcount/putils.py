"""Platform and path utilities, to find native libraries (pyrefcount's putils)."""

import os
import sys
from ctypes.util import find_library as _find_library
from glob import glob
from typing import List, Optional, Union

from refcount._gi import GLib, Refcount

__all__ = [
    "library_short_filename",
    "find_full_path",
    "augment_path_env",
    "build_new_path_env",
    "update_path_windows",
]


def library_short_filename(library_name: str, platform: Optional[str] = None) -> str:
    """The file name of a native library: libX.so, X.dll or libX.dylib."""
    if library_name is None:
        raise ValueError("library_name cannot be None")
    if not isinstance(library_name, str):
        raise TypeError("library_name must be a str")
    if platform is None:
        platform = sys.platform
    try:
        return Refcount.library_short_filename(library_name, platform)
    except GLib.Error as error:
        if error.matches(Refcount.error_quark(), Refcount.Error.NOT_IMPLEMENTED):
            raise NotImplementedError(f"Platform '{platform}' is not (yet) supported") from None
        raise ValueError(error.message) from None


def find_full_path(name: str, prefix: Optional[str] = None) -> Optional[str]:
    """The full path of a native library under prefix/lib*, or what
    ctypes.util.find_library gives, or None."""
    if name is None:
        return None
    if prefix is None:
        prefix = sys.prefix
    short_name = library_short_filename(name)
    for libdir in sorted(glob(os.path.join(prefix, "lib*"))):
        candidate = os.path.join(libdir, short_name)
        if os.path.exists(candidate):
            return candidate
    return _find_library(name)


def augment_path_env(
    added_paths: Union[str, List[str]],
    subfolder: Optional[str] = None,
    to_env: str = "PATH",
    prepend: bool = False,
) -> str:
    """The value of to_env with the existing added_paths joined to it."""
    if isinstance(added_paths, str):
        added_paths = [added_paths]
    current = os.environ.get(to_env, "")
    if subfolder:
        added_paths = [os.path.join(p, subfolder) for p in added_paths]
    added = [p for p in added_paths if os.path.exists(p)]
    parts = added + [current] if prepend else [current] + added
    return os.pathsep.join(p for p in parts if p)


def _win_architecture(platform: Optional[str] = None) -> str:
    platform = sys.platform if platform is None else platform
    if platform == "win32":
        arch = os.environ.get("PROCESSOR_ARCHITECTURE", "")
        return "64" if arch.endswith("64") else "32"
    return ""


def build_new_path_env(
    from_env: str = "LIBRARY_PATH", to_env: str = "PATH", platform: Optional[str] = None
) -> str:
    """to_env's value augmented with the paths of from_env (Windows style)."""
    if from_env in os.environ:
        paths = os.environ[from_env].split(os.pathsep)
        return augment_path_env(paths, _win_architecture(platform), to_env)
    print(
        f"WARNING: a function was called to look for environment variable '{from_env}' "
        f"to update the environment variable '{to_env}', but was not found. "
        "This may be by design, but if not, check your environment.",
        file=sys.stderr,
    )
    return os.environ.get(to_env, "")


def update_path_windows(from_env: str = "LIBRARY_PATH", to_env: str = "PATH") -> None:
    """On Windows, adds the paths of from_env to to_env; elsewhere nothing."""
    if sys.platform == "win32":
        os.environ[to_env] = build_new_path_env(from_env, to_env, sys.platform)
