"""Runs a program under valgrind memcheck and judges what memcheck reports,
leaving out only what the Python interpreter does on its own.

    valgrind-check.py VALGRIND [VALGRIND_OPTIONS...] PROGRAM [ARGS...]

CPython 3.13 keeps thousands of blocks it allocates at start-up (frozen
modules, interned strings) and never frees them; under memcheck they are
"definitely lost". Python 3.14's allocator reads memory memcheck thinks is
uninitialised ("Conditional jump or move depends on uninitialised
value(s)"). Neither is refcount's doing, and no suppression file can say "any
number of frames, all in this interpreter". This wrapper runs valgrind with
its XML output and counts every error it reports, except those of three
kinds.

1. An error whose stacks lie wholly inside the interpreter: each frame is in
   the Python binary or libpython or one of the standard library's C modules
   (lib-dynload), in memcheck's own allocator and string replacements, or one
   of the C library's process and thread entry points, and the stack reaches
   such an entry point (a stack cut short by --num-callers may hide a caller,
   so it counts).

2. A leak that the interpreter allocated for a third-party extension module
   while that module initialised (CPython 3.13 keeps what PyGObject's _gi and
   cffi's _cffi_backend have it intern or add to their modules at import).
   Its one stack must read, from the allocation down to the process's entry
   point:
     - the allocator and one or more frames of the interpreter's own (as in
       1, with at least one frame in the Python binary or libpython): the
       interpreter allocated it, not the extension;
     - then one run of frames, all in one extension module: a file
       NAME.cpython-*.so or NAME.abi3.so in a site directory (dist-packages,
       site-packages), that is not refcount's (librefcount, anything in
       gi/overrides/ where refcount's accelerator is installed, any extension
       of the refcount package, _refcount*.so);
     - whose outermost frame is the module's init function PyInit_NAME
       (one-phase init), or is called by the interpreter's PyModule_ExecDef
       (the exec slot of a two-phase init, PEP 489);
     - then only the interpreter's frames again, down to the entry point.
   So a leak with a frame in librefcount, in refcount's extension modules
   (built or installed), in a module of the build tree, in GLib or anywhere
   else, a block an extension allocates itself, and whatever an extension
   allocates after its init, all count.

3. An uninitialised value that the interpreter allocated for itself and
   read itself (CPython 3.14 allocates the instrumentation data of a code
   object that sys.settrace, sys.setprofile or sys.monitoring instruments,
   leaves part of it, tool_versions, unwritten and branches on it at every
   later instrumentation; the code may run under a call from an extension).
   Memcheck must say where the value came from (--track-origins=yes, which
   doubles the run time: see "Origins" below), and:
     - the conditional jump is in the Python binary or libpython (its
       innermost frame);
     - the value was created by a heap allocation whose stack reads the
       allocator and then at least INTERPRETER_ALLOCATION_DEPTH (3) frames
       of the Python binary or libpython before any other frame: the
       interpreter allocated it several calls deep on its own behalf (here:
       the allocation of the instrumentation data, under the instrumenting,
       under the evaluation of the code). The C-API allocators an
       extension calls (PyMem_Malloc, PyObject_Malloc, PyUnicode_New,
       PyBytes_FromStringAndSize(NULL, n), _PyObject_New...) are one or two
       frames deep under Debian's optimised interpreters, so memory that
       refcount gets from them and leaves unwritten counts wherever it is
       read; test-valgrind-check.py checks that under each Python.
   The stacks below those frames do not matter: the origin is the first
   instrumenting of the code, wherever it ran, and the read any later one.

Any other error counts: one with a frame in librefcount, the accelerator,
PyGObject (but for rule 2), GLib, the test library, an unknown frame.

Origins: an uninitialised value is judged with its origin, whichever rule
applies (rule 1 then asks the origin's stack too to lie wholly inside the
interpreter). When the valgrind options do not track origins and memcheck
reports an uninitialised value in a run that nothing else fails, the
program runs again with --track-origins=yes, and that second run is judged
as a whole, its exit status included: a program that makes the interpreter
read no uninitialised value (most runs: none that instruments no code) runs
once, at twice the speed, and one that does is judged as if origins were
always tracked. A first run that fails, or that has other errors that
count, is judged as it is.

Each process valgrind follows writes its own report (a child forked without
exec included); the program's own report must be complete. The exit status
is the program's, or 1 when it passed and memcheck found an
error that counts; each such error is printed on stderr. The suppression
files given to valgrind still apply first.

VALGRIND_CHECK_KEEP=DIR keeps the XML reports of each run in a new directory
under DIR, to read them afterwards.
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
# The interpreter proper: the Python binary and libpython.
INTERPRETER_BINARY = re.compile(r"(^|/)(python3\.\d+t?|libpython3\.\d+t?\.so(\.[\d.]+)?)$")
# How many of the interpreter's frames, at least, lie between the allocator
# and anything else in the origin of an uninitialised value left out (rule 3).
INTERPRETER_ALLOCATION_DEPTH = 3
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
# A Python extension module installed in a site directory, where the
# packages this system installs for Python go (Debian's dist-packages,
# upstream's site-packages): not the build tree, not lib-dynload.
THIRD_PARTY_EXTENSION = re.compile(
    r"/(dist|site)-packages/(?:[^/]+/)*[^/.]+\.(cpython-[^/]+|abi3)\.so$")
# refcount's own code wherever it is installed: the library, the overrides'
# accelerator (gi/overrides/_refcount_fast*.so: PyGObject ships no extension
# there) and any extension module of the refcount package.
REFCOUNT_OBJ = re.compile(
    r"(^|/)librefcount[^/]*\.so|/gi/overrides/[^/]+\.so$|/refcount/[^/]+\.so$|(^|/)_refcount[^/]*\.so$")
# What runs the exec slot of a multi-phase-init module (PEP 489).
MODULE_EXEC_FUNCTIONS = {"PyModule_ExecDef"}


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


def extension_init_leak(error):
    """Whether a leak is the interpreter's own allocation made while a
    third-party extension module initialised (the rule in the docstring)."""
    if not frame_text(error, "kind").startswith("Leak_"):
        return False
    stacks = error.findall("stack")
    if len(stacks) != 1:
        return False
    frames = stacks[0].findall("frame")
    if not frames or not is_entry_frame(frames[-1]):
        return False
    # The allocator, called by the interpreter's own functions...
    i = 0
    while i < len(frames) and is_interpreter_frame(frames[i]):
        i += 1
    if not any(INTERPRETER_OBJ.search(frame_text(f, "obj")) for f in frames[:i]):
        return False
    if i == len(frames):
        return False
    # ...called by one extension module, from its init...
    obj = frame_text(frames[i], "obj")
    if not THIRD_PARTY_EXTENSION.search(obj) or REFCOUNT_OBJ.search(obj):
        return False
    j = i
    while j < len(frames) and frame_text(frames[j], "obj") == obj:
        j += 1
    if j == len(frames):
        return False
    module = os.path.basename(obj).split(".", 1)[0]
    init = frame_text(frames[j - 1], "fn") == "PyInit_" + module
    exec_slot = frame_text(frames[j], "fn") in MODULE_EXEC_FUNCTIONS
    if not (init or exec_slot):
        return False
    # ...which the interpreter imported, down to where the process began.
    return all(is_interpreter_frame(f) for f in frames[j:])


def interpreter_uninitialised(error):
    """Whether an uninitialised value is one the interpreter made and read
    itself (rule 3 in the docstring)."""
    if frame_text(error, "kind") not in ("UninitCondition", "UninitValue"):
        return False
    stacks = error.findall("stack")
    # The read's stack, then the origin's (--track-origins=yes).
    if len(stacks) != 2:
        return False
    origin_kind = ""
    for element in error:
        if element.tag == "auxwhat" and element.text:
            origin_kind = element.text
    if "created by a heap allocation" not in origin_kind:
        return False
    read, origin = stacks[0].findall("frame"), stacks[1].findall("frame")
    if not read or not INTERPRETER_BINARY.search(frame_text(read[0], "obj")):
        return False
    i = 0
    while i < len(origin) and MEMCHECK_OBJ.search(frame_text(origin[i], "obj")):
        i += 1
    depth = 0
    while i < len(origin) and INTERPRETER_BINARY.search(frame_text(origin[i], "obj")):
        i += 1
        depth += 1
    return depth >= INTERPRETER_ALLOCATION_DEPTH


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


UNINITIALISED_KINDS = ("UninitCondition", "UninitValue")


class Run:
    """One run of the program under valgrind, judged."""

    def __init__(self):
        self.status = 0
        self.counted = []
        self.left_out = 0
        self.init_left_out = 0
        self.uninit_left_out = 0
        self.uninitialised = 0  # uninitialised values seen, whatever the rule
        self.problem = None  # why the run cannot be judged


def run_and_judge(valgrind, program):
    run = Run()
    with tempfile.TemporaryDirectory(prefix="valgrind-check.") as tmp:
        keep = os.environ.get("VALGRIND_CHECK_KEEP")
        if keep:
            os.makedirs(keep, exist_ok=True)
            tmp = tempfile.mkdtemp(prefix="valgrind-check.", dir=keep)
        command = valgrind + ["--xml=yes", f"--xml-file={tmp}/memcheck.%p.xml"] + program
        child = subprocess.Popen(command)
        run.status = child.wait()
        if run.status < 0:  # killed by a signal, as a shell would say it
            run.status = 128 - run.status
        own_report = f"memcheck.{child.pid}.xml"
        files = sorted(os.listdir(tmp))
        if own_report not in files:
            run.problem = "valgrind wrote no report"
            return run
        for name in files:
            errors, complete = read_errors(os.path.join(tmp, name))
            if not complete and name == own_report:
                run.problem = f"the report of the program itself is unfinished ({name})"
                return run
            for error in errors:
                if frame_text(error, "kind") in UNINITIALISED_KINDS:
                    run.uninitialised += 1
                if wholly_interpreter(error):
                    run.left_out += 1
                elif extension_init_leak(error):
                    run.init_left_out += 1
                elif interpreter_uninitialised(error):
                    run.uninit_left_out += 1
                else:
                    run.counted.append(error)
    return run


def tracks_origins(valgrind):
    return any(option in ("--track-origins=yes", "--track-origins=y") for option in valgrind)


def main():
    valgrind, program = split_command(sys.argv[1:])
    run = run_and_judge(valgrind, program)
    if (run.problem is None and run.status == 0 and run.uninitialised and not tracks_origins(valgrind)
            and all(frame_text(e, "kind") in UNINITIALISED_KINDS for e in run.counted)):
        print(f"valgrind-check: {run.uninitialised} uninitialised value(s) to judge by their origin: "
              "the program runs again with --track-origins=yes", file=sys.stderr)
        run = run_and_judge(valgrind + ["--track-origins=yes"], program)
    if run.problem is not None:
        print(f"valgrind-check: {run.problem}", file=sys.stderr)
        return run.status or 1

    if run.left_out:
        print(f"valgrind-check: {run.left_out} error context(s) wholly inside the Python interpreter left out",
              file=sys.stderr)
    if run.init_left_out:
        print(f"valgrind-check: {run.init_left_out} leak(s) of the interpreter's made while a third-party "
              "extension module initialised left out", file=sys.stderr)
    if run.uninit_left_out:
        print(f"valgrind-check: {run.uninit_left_out} uninitialised value(s) the interpreter allocated and "
              "read itself left out", file=sys.stderr)
    for error in run.counted:
        print("valgrind-check: " + describe(error), file=sys.stderr)
    if run.counted:
        print(f"valgrind-check: {len(run.counted)} error context(s) that count", file=sys.stderr)
        return run.status or 1
    return run.status


if __name__ == "__main__":
    sys.exit(main())
