"""Runs a program under valgrind memcheck and judges what memcheck reports,
leaving out only what the Python interpreter does on its own.

    valgrind-check.py VALGRIND [VALGRIND_OPTIONS...] PROGRAM [ARGS...]

CPython 3.13 keeps thousands of blocks it allocates at start-up (frozen
modules, interned strings) and never frees them; under memcheck they are
"definitely lost". Python 3.14's allocator reads memory memcheck thinks is
uninitialised ("Conditional jump or move depends on uninitialised
value(s)"). Neither is refcount's doing, and no suppression file can say "any
number of frames, all in this interpreter". This wrapper runs valgrind with
its XML output and counts every error it reports, except one whose stacks lie
wholly inside the interpreter: each frame is in the Python binary or
libpython or one of the standard library's C modules (lib-dynload), in memcheck's own allocator and string replacements, or one of
the C library's process and thread entry points, and the stack reaches such
an entry point (a stack cut short by --num-callers may hide a caller, so it
counts). An error with a single frame anywhere else (librefcount, the
accelerator, PyGObject, GLib, the test library, an unknown frame) counts.

Each process valgrind follows writes its own report (a child forked without
exec included); the program's own report must be complete. The exit status
is the program's, or 1 when it passed and memcheck found an
error that counts; each such error is printed on stderr. The suppression
files given to valgrind still apply first.
"""

import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

INTERPRETER_OBJ = re.compile(
    r"(^|/)(python3\.\d+t?|libpython3\.\d+t?\.so(\.[\d.]+)?)$"
    # The standard library's own C modules, shipped with the interpreter
    # (CPython 3.13's _decimal and termios keep what their init allocates);
    # not site or dist-packages, where cffi, gi and refcount's modules are.
    r"|/python3\.\d+t?/lib-dynload/[^/]+\.so$"
)
# memcheck's replacements of malloc, free, memcpy, strlen...
MEMCHECK_OBJ = re.compile(r"(^|/)vgpreload_memcheck-[^/]*\.so$")
# Where every stack of a process or of one of its threads starts.
ENTRY_FUNCTIONS = {
    "(below main)",  # memcheck's name for what calls main
    "_start",
    "__libc_start_main",
    "__libc_start_main_impl",
    "__libc_start_call_main",
    "start_thread",
    "clone",
    "clone3",
}
LIBC_OBJ = re.compile(r"(^|/)libc\.so\.6$")


def frame_text(frame, tag):
    node = frame.find(tag)
    return node.text if node is not None and node.text else ""


def is_interpreter_frame(frame):
    obj = frame_text(frame, "obj")
    fn = frame_text(frame, "fn")
    if INTERPRETER_OBJ.search(obj) or MEMCHECK_OBJ.search(obj):
        return True
    return fn in ENTRY_FUNCTIONS and bool(LIBC_OBJ.search(obj) or INTERPRETER_OBJ.search(obj))


def is_entry_frame(frame):
    return frame_text(frame, "fn") in ENTRY_FUNCTIONS


def wholly_interpreter(error):
    stacks = error.findall("stack")
    if not stacks:
        return False
    for stack in stacks:
        frames = stack.findall("frame")
        if not frames or not all(is_interpreter_frame(f) for f in frames):
            return False
        # Every frame shown, down to where the process or thread began.
        if not is_entry_frame(frames[-1]):
            return False
    return True


def describe(error):
    lines = []
    what = error.find("what")
    if what is None:
        what = error.find("xwhat/text")
    lines.append(f"{frame_text(error, 'kind')}: {what.text if what is not None else ''}")
    for element in error:
        if element.tag == "auxwhat":
            lines.append(f"  {element.text}")
        elif element.tag == "stack":
            for frame in element.findall("frame"):
                where = frame_text(frame, "fn") or frame_text(frame, "ip")
                source = frame_text(frame, "file")
                if source:
                    where += f" ({source}:{frame_text(frame, 'line')})"
                lines.append(f"    {where} in {frame_text(frame, 'obj') or '???'}")
    return "\n".join(lines)


def split_command(argv):
    """VALGRIND [OPTIONS...] PROGRAM [ARGS...] -> (valgrind part, program part)."""
    for i in range(1, len(argv)):
        if not argv[i].startswith("-"):
            return argv[:i], argv[i:]
    sys.exit("valgrind-check: usage: valgrind-check.py VALGRIND [OPTIONS...] PROGRAM [ARGS...]")


def read_errors(path):
    """The <error> elements of a report, and whether it is complete. A
    forked child that goes on to exec another program leaves its report
    unfinished (valgrind does not follow it: --trace-children=no); the errors
    written before that still count."""
    parser = ET.XMLPullParser(events=("end",))
    errors = []
    with open(path, "rb") as report:
        data = report.read()
    try:
        parser.feed(data)
        parser.close()
        complete = True
    except ET.ParseError:
        complete = False
    for _, element in parser.read_events():
        if element.tag == "error":
            errors.append(element)
    return errors, complete


def main():
    valgrind, program = split_command(sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="valgrind-check.") as tmp:
        command = valgrind + ["--xml=yes", f"--xml-file={tmp}/memcheck.%p.xml"] + program
        child = subprocess.Popen(command)
        status = child.wait()
        if status < 0:  # killed by a signal, as a shell would say it
            status = 128 - status
        own_report = f"memcheck.{child.pid}.xml"
        counted = []
        left_out = 0
        files = sorted(os.listdir(tmp))
        if own_report not in files:
            print("valgrind-check: valgrind wrote no report", file=sys.stderr)
            return status or 1
        for name in files:
            errors, complete = read_errors(os.path.join(tmp, name))
            if not complete and name == own_report:
                print(f"valgrind-check: the report of the program itself is unfinished ({name})",
                      file=sys.stderr)
                return status or 1
            for error in errors:
                if wholly_interpreter(error):
                    left_out += 1
                else:
                    counted.append(error)

    if left_out:
        print(f"valgrind-check: {left_out} error context(s) wholly inside the Python interpreter left out",
              file=sys.stderr)
    for error in counted:
        print("valgrind-check: " + describe(error), file=sys.stderr)
    if counted:
        print(f"valgrind-check: {len(counted)} error context(s) that count", file=sys.stderr)
        return status or 1
    return status


if __name__ == "__main__":
    sys.exit(main())
