"""refcount.base, as in pyrefcount 1.2.x: ReferenceCounter and NativeHandle."""

import gc
import subprocess
import sys
import textwrap

import gi

gi.require_version("Refcount", "1.0")
from gi.repository import Refcount  # noqa: E402

import pytest  # noqa: E402

from refcount.base import NativeHandle, ReferenceCounter  # noqa: E402

INVALID_HANDLE_MESSAGE = "The specified handle argument is not a valid handle"


class IntHandle(NativeHandle):
    """Accepts positive ints only; releasing has nothing to free."""

    def __init__(self, handle=None, prior_ref_count=0):
        super().__init__(handle, prior_ref_count)

    def _is_valid_handle(self, h):
        return isinstance(h, int) and h > 0

    def _release_handle(self) -> bool:
        return True


def test_reference_counter_starts_at_one():
    assert ReferenceCounter().reference_count == 1


@pytest.mark.parametrize("prior", [0, 1, 7])
def test_reference_counter_prior_ref_count(prior):
    assert ReferenceCounter(prior).reference_count == prior + 1
    assert ReferenceCounter(prior_ref_count=prior).reference_count == prior + 1


def test_reference_counter_add_ref_and_decrement_ref():
    c = ReferenceCounter()
    c.add_ref()
    c.add_ref()
    assert c.reference_count == 3
    c.decrement_ref()
    assert c.reference_count == 2
    c.decrement_ref()
    assert c.reference_count == 1


def test_reference_count_is_read_only():
    c = ReferenceCounter()
    with pytest.raises(AttributeError):
        c.reference_count = 5
    assert c.reference_count == 1


def test_native_handle_is_a_reference_counter_with_a_gi_handle():
    assert issubclass(NativeHandle, ReferenceCounter)
    # No GObject wrapper per handle: as_gobject() gives one on demand.
    assert not issubclass(NativeHandle, Refcount.NativeHandle)

    class Held(NativeHandle):
        def _is_valid_handle(self, handle):
            return isinstance(handle, int)

        def _release_handle(self):
            return True

    h = Held(0x1234)
    gobject = h.as_gobject()
    assert isinstance(gobject, Refcount.NativeHandle)
    assert gobject.address == 0x1234
    assert gobject.reference_count == h.reference_count == 1
    h.add_ref()
    assert gobject.reference_count == 2


@pytest.mark.parametrize("number", [-1, 2 ** 64], ids=["-1", "2**64"])
def test_an_int_that_is_no_address_is_still_a_handle(number):
    # pyrefcount takes any object its subclass accepts; an int that cannot
    # be a pointer has no address, and C code sees a placeholder.
    released = []

    class Anything(NativeHandle):
        def _is_valid_handle(self, handle):
            return True

        def _release_handle(self):
            released.append(self.get_handle())
            return True

    h = Anything(number)
    assert h.get_handle() == number
    assert h.address is None
    gobject = h.as_gobject()
    assert gobject.reference_count == 1 and not gobject.disposed
    h.release()
    assert released == [number]
    assert gobject.disposed


def test_native_handle_constructs_without_arguments():
    h = NativeHandle()
    assert isinstance(h, ReferenceCounter)
    assert h.reference_count == 1
    del h
    gc.collect()


def test_native_handle_none_sets_nothing():
    h = IntHandle(None, prior_ref_count=2)
    assert h.reference_count == 3
    assert h.get_handle() is None


def test_base_is_valid_handle_is_abstract():
    h = NativeHandle()
    with pytest.raises(NotImplementedError):
        h._is_valid_handle(42)
    with pytest.raises(NotImplementedError):
        h._set_handle(42)


def test_set_handle_resets_the_count():
    h = IntHandle(None, prior_ref_count=5)
    assert h.reference_count == 6
    h._set_handle(42, prior_ref_count=1)
    assert h.reference_count == 2
    assert h.get_handle() == 42


def test_set_handle_default_prior_ref_count():
    h = IntHandle(None, prior_ref_count=3)
    h._set_handle(42)
    assert h.reference_count == 1


def test_constructor_sets_a_valid_handle():
    h = IntHandle(42, prior_ref_count=2)
    assert h.get_handle() == 42
    assert h.reference_count == 3


@pytest.mark.parametrize("bad", [0, -3, "x", 1.5])
def test_set_handle_rejects_invalid_handles_with_runtime_error(bad):
    h = IntHandle()
    with pytest.raises(RuntimeError) as excinfo:
        h._set_handle(bad)
    assert str(excinfo.value) == INVALID_HANDLE_MESSAGE
    assert h.get_handle() is None


def test_constructor_rejects_invalid_handles_with_runtime_error():
    with pytest.raises(RuntimeError) as excinfo:
        IntHandle(-1)
    assert str(excinfo.value) == INVALID_HANDLE_MESSAGE


def test_release_code_exception_is_raised_again_with_only_refcount_base_imported():
    # In a fresh interpreter that imports refcount.base and nothing else of
    # the package (no refcount.interop): the release() that led to a failing
    # _release_handle raises its exception, the handle is kept, and a later
    # release succeeds.
    script = textwrap.dedent("""
        import gi
        gi.require_version("Refcount", "1.0")
        from refcount.base import NativeHandle
        import sys
        assert "refcount.interop" not in sys.modules

        class Handle(NativeHandle):
            fail = True

            def _is_valid_handle(self, handle):
                return True

            def _release_handle(self):
                if Handle.fail:
                    raise OSError("the kennel door is stuck")
                return True

        h = Handle(12345)
        try:
            h.release()
        except OSError as error:
            print("raised:", error)
        print("disposed:", h.disposed)
        Handle.fail = False
        h.release()
        print("disposed:", h.disposed)
    """)
    process = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert process.returncode == 0, process.stderr
    assert process.stdout.splitlines() == [
        "raised: the kennel door is stuck",
        "disposed: False",
        "disposed: True",
    ], process.stdout + process.stderr

