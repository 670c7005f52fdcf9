"""Checks valgrind-check.py, the judge of the valgrind test setup, under this
system's Python: the interpreter's own leaks and uninitialised reads are left
out, and errors in refcount's code (a leak in an extension module built like
the C accelerator, a leak of a handle the library allocated, a branch on
uninitialised memory in the extension) are reported and fail the run.

    test-valgrind-check.py PROBE_DIR -- VALGRIND_CHECK_COMMAND...

VALGRIND_CHECK_COMMAND is the valgrind test setup's wrapper (Python,
valgrind-check.py, valgrind and its options); each case runs this Python
under it. Prints TAP.
"""

import subprocess
import sys

CASES = [
    # name, Python code, expected to fail, words the report must hold
    ("interpreter-alone-passes", "import _rc_leak_probe", False, []),
    ("extension-leak-reported", "import _rc_leak_probe; _rc_leak_probe.leak_block()", True,
     ["Leak_DefinitelyLost", "probe_leak_block", "_rc_leak_probe"]),
    ("library-leak-reported", "import _rc_leak_probe; _rc_leak_probe.leak_handle()", True,
     ["Leak_DefinitelyLost", "rc_deletable_native_handle_new", "librefcount-1.so"]),
    ("extension-uninitialised-read-reported",
     "import _rc_leak_probe; _rc_leak_probe.branch_on_uninitialised()", True,
     ["UninitCondition", "probe_branch_on_uninitialised"]),
]


def main():
    separator = sys.argv.index("--")
    command = sys.argv[separator + 1:]
    print(f"1..{len(CASES)}")
    print(f"# {sys.executable} {sys.version.split()[0]}")
    failures = 0
    for number, (name, code, should_fail, words) in enumerate(CASES, 1):
        run = subprocess.run(command + [sys.executable, "-c", code],
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
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
