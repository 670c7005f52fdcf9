"""Checks valgrind-check.py, the judge of the valgrind test setup, under this
system's Python: the interpreter's own leaks and uninitialised reads are left
out, and errors in refcount's code (a leak in an extension module built like
the C accelerator, a leak of a handle the library allocated, a branch on
uninitialised memory in the extension) are reported and fail the run.

The judge also leaves out what the interpreter allocates for a third-party
extension module while it initialises; the init-leak probes show how far that
goes: the same leak in the init of a module of the build tree (one-phase and
two-phase init alike), or of one installed where refcount's modules go, is
reported, and so are a block the init allocates itself and a handle
librefcount makes from such an init, while the
very module installed in a site directory as a third party's is left out.

    test-valgrind-check.py PROBE_DIR -- VALGRIND_CHECK_COMMAND...

VALGRIND_CHECK_COMMAND is the valgrind test setup's wrapper (Python,
valgrind-check.py, valgrind and its options); each case runs this Python
under it. Prints TAP.
"""

import glob
import os
import shutil
import subprocess
import sys
import tempfile

# Where a case finds the probes: the build tree (PROBE_DIR), or a copy of
# them in a site directory, as a third party's modules or as refcount's
# accelerator is installed.
BUILD = None
SITE = "lib/python3/dist-packages"
SITE_OVERRIDES = "lib/python3/dist-packages/gi/overrides"

INIT_LEAK = "import _rc_init_leak_probe"
EXEC_LEAK = "import _rc_exec_leak_probe"
LEFT_OUT = "initialised left out"

CASES = [
    # name, where the probes are, RC_PROBE_INIT_LEAK, Python code, expected
    # to fail, words the report must hold
    ("interpreter-alone-passes", BUILD, "", "import _rc_leak_probe", False, []),
    ("extension-leak-reported", BUILD, "", "import _rc_leak_probe; _rc_leak_probe.leak_block()", True,
     ["Leak_DefinitelyLost", "probe_leak_block", "_rc_leak_probe"]),
    ("library-leak-reported", BUILD, "", "import _rc_leak_probe; _rc_leak_probe.leak_handle()", True,
     ["Leak_DefinitelyLost", "rc_deletable_native_handle_new", "librefcount-1.so"]),
    ("extension-uninitialised-read-reported", BUILD, "",
     "import _rc_leak_probe; _rc_leak_probe.branch_on_uninitialised()", True,
     ["UninitCondition", "probe_branch_on_uninitialised", "runs again with --track-origins=yes"]),
    # Memory the interpreter allocated for the extension (a C-API call), left
    # unwritten and then read by the interpreter, counts.
    ("api-allocation-uninitialised-read-reported", BUILD, "",
     "import _rc_leak_probe; _rc_leak_probe.int_from_uninitialised_bytes()", True,
     ["UninitCondition", "PyLong_FromLong", "probe_int_from_uninitialised_bytes"]),
    # ...and so does such memory read by the interpreter alone, from Python
    # code: only its origin, which the judge asks memcheck for in a second
    # run, says where it came from.
    ("interpreter-read-of-api-allocation-reported", BUILD, "",
     "import _rc_leak_probe\n"
     "if _rc_leak_probe.uninitialised_bytes() == bytes(8):\n"
     "    pass", True,
     ["UninitCondition", "probe_uninitialised_bytes", "runs again with --track-origins=yes"]),
    # Python code the extension calls while a trace function is set: the
    # interpreter instruments it (CPython 3.14 reads the instrumentation data
    # it left uninitialised, which the judge leaves out once a second run
    # gave it the origins; the run passes on every Python).
    ("traced-call-from-extension-passes", BUILD, "",
     "import sys, _rc_leak_probe\n"
     "def f(): return 1\n"
     "sys.settrace(lambda *args: None)\n"
     "_rc_leak_probe.call(f)\n"
     "sys.settrace(None)\n"
     "_rc_leak_probe.call(f)", False, []),
    # The init-leak probes with nothing to leak pass wherever they are.
    ("init-probes-alone-pass", SITE, "", f"{INIT_LEAK}; {EXEC_LEAK}", False, []),
    # A third party's module in a site directory: what the interpreter
    # allocates for its init is left out, one-phase and two-phase.
    ("third-party-init-leak-left-out", SITE, "object", INIT_LEAK, False, [LEFT_OUT]),
    ("third-party-exec-leak-left-out", SITE, "object", EXEC_LEAK, False, [LEFT_OUT]),
    # The same leaks from a module of the build tree count.
    ("build-tree-init-leak-reported", BUILD, "object", INIT_LEAK, True,
     ["Leak_DefinitelyLost", "PyInit__rc_init_leak_probe"]),
    ("build-tree-exec-leak-reported", BUILD, "object", EXEC_LEAK, True,
     ["Leak_DefinitelyLost", "probe_exec", "_rc_exec_leak_probe"]),
    # ...and from a module installed where refcount's accelerator goes.
    ("installed-accelerator-init-leak-reported", SITE_OVERRIDES, "object", INIT_LEAK, True,
     ["Leak_DefinitelyLost", "PyInit__rc_init_leak_probe"]),
    # A block the third party's init allocates itself counts: only the
    # interpreter's allocations are left out.
    ("third-party-init-own-block-reported", SITE, "block", INIT_LEAK, True,
     ["Leak_DefinitelyLost", "PyInit__rc_init_leak_probe"]),
    # A handle librefcount makes from a third party's init counts.
    ("library-leak-in-third-party-init-reported", SITE, "handle", INIT_LEAK, True,
     ["Leak_DefinitelyLost", "rc_deletable_native_handle_new", "librefcount-1.so"]),
    ("library-leak-in-third-party-exec-reported", SITE, "handle", EXEC_LEAK, True,
     ["Leak_DefinitelyLost", "rc_deletable_native_handle_new", "librefcount-1.so"]),
]


def install_probes(probe_dir, prefix):
    """Copies the init-leak probes into PREFIX's site directories."""
    probes = glob.glob(os.path.join(probe_dir, "_rc_init_leak_probe*.so")) + \
        glob.glob(os.path.join(probe_dir, "_rc_exec_leak_probe*.so"))
    if len(probes) != 2:
        sys.exit(f"test-valgrind-check: the two init-leak probes are not in {probe_dir}: {probes}")
    for where in (SITE, SITE_OVERRIDES):
        os.makedirs(os.path.join(prefix, where))
        for probe in probes:
            shutil.copy(probe, os.path.join(prefix, where))


def main():
    separator = sys.argv.index("--")
    probe_dir = sys.argv[1]
    command = sys.argv[separator + 1:]
    print(f"1..{len(CASES)}")
    print(f"# {sys.executable} {sys.version.split()[0]}")
    failures = 0
    prefix = tempfile.mkdtemp(prefix="test-valgrind-check.")
    install_probes(probe_dir, prefix)
    for number, (name, where, leak, code, should_fail, words) in enumerate(CASES, 1):
        env = dict(os.environ, RC_PROBE_INIT_LEAK=leak)
        env["PYTHONPATH"] = probe_dir if where is BUILD else os.path.join(prefix, where)
        run = subprocess.run(command + [sys.executable, "-c", code], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        report = run.stdout
        problems = []
        if should_fail and run.returncode == 0:
            problems.append("the run passed")
        if not should_fail and run.returncode != 0:
            problems.append(f"the run failed (exit {run.returncode})")
        problems += [f"the report does not name {word}" for word in words if word not in report]
        for line in report.splitlines():
            if "left out" in line or "that count" in line:
                print(f"# {name}: {line}")
        if problems:
            failures += 1
            print(f"not ok {number} {name}")
            for problem in problems:
                print(f"# {problem}")
            for line in report.splitlines()[-60:]:
                print(f"#   {line}")
        else:
            print(f"ok {number} {name}")
    shutil.rmtree(prefix)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
