"""Prints where the Python modules go for an install prefix, for meson.

    site-dir.py PREFIX MESON_DIR

MESON_DIR is meson's answer (py_installation.get_install_dir()), taken from
the interpreter's sysconfig scheme; on Debian that scheme names
lib/python3/dist-packages, which Debian's Python searches under /usr but
not under /usr/local (there it searches lib/python3.X/dist-packages).
The answer here is the directory this interpreter's site module searches for
PREFIX: meson's when it is one of them, else the first one inside PREFIX;
when it searches none inside PREFIX (a scratch or custom prefix), meson's,
which the user adds to PYTHONPATH. The second line says which case it is:
'searched' or 'not-searched'.
"""

import os
import site
import sys


def main():
    prefix, meson_dir = (os.path.realpath(p) for p in sys.argv[1:3])
    searched = [os.path.realpath(d) for d in site.getsitepackages()]
    if meson_dir in searched:
        print(meson_dir)
        print("searched")
        return
    for directory in searched:
        if os.path.commonpath([directory, prefix]) == prefix:
            print(directory)
            print("searched")
            return
    print(meson_dir)
    print("not-searched")


if __name__ == "__main__":
    main()
