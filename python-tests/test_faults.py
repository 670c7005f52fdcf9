"""Fault injection in Python release code: each fault has the outcome the
reference manual's "When things go wrong" section states.

- release code that raises: the exception is raised again from the release()
  that led to it, the handle keeps its pointer (not disposed, count 0) and a
  later dispose() retries; from the garbage collector it goes to
  sys.unraisablehook and the native object is not freed twice;
- release code that returns False: kept, and retried;
- release code that re-enters the library: releases another handle, takes a
  reference to a third, creates a new handle;
- the last reference given back in another thread than the creator's.
"""

import gc
import sys
import threading

import gi

gi.require_version("Refcount", "1.0")
from gi.repository import Refcount  # noqa: E402

import pytest  # noqa: E402

from rcnative import address_of, lib, new_dog  # noqa: E402


class FlakyDog(Refcount.NativeHandle):
    """Fails its first `failures` releases (raising or returning False)."""

    def __init__(self, failures, mode):
        super().__init__(new_dog(b"Flaky"), "dog")
        self.failures = failures
        self.mode = mode
        self.attempts = 0

    def do_release_handle(self):
        self.attempts += 1
        if self.attempts <= self.failures:
            if self.mode == "raise":
                raise OSError("the device is busy")
            return False
        lib.rc_tn_release(self.get_handle())
        return True


def test_raising_release_is_raised_again_and_the_handle_is_kept():
    dog = FlakyDog(failures=1, mode="raise")
    ptr = dog.get_handle()
    with pytest.raises(OSError, match="busy"):
        dog.release()
    assert dog.attempts == 1
    assert dog.disposed is False
    assert dog.reference_count == 0
    assert dog.get_handle() is ptr
    assert lib.rc_tn_is_alive(ptr) == 1

    dog.dispose()  # the retry succeeds
    assert dog.attempts == 2
    assert dog.disposed is True
    assert lib.rc_tn_is_alive(ptr) == 0

    dog.dispose()  # and nothing happens any more
    assert dog.attempts == 2
    assert lib.rc_tn_misuse_count() == 0


def test_release_returning_false_is_kept_and_retried():
    dog = FlakyDog(failures=2, mode="false")
    ptr = dog.get_handle()
    dog.release()
    dog.release()
    assert dog.attempts == 2
    assert dog.disposed is False
    assert lib.rc_tn_is_alive(ptr) == 1
    dog.release()
    assert dog.attempts == 3
    assert dog.disposed is True
    assert lib.rc_tn_is_alive(ptr) == 0


def test_raising_release_on_garbage_collection_goes_to_unraisablehook(monkeypatch):
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    dog = FlakyDog(failures=1, mode="raise")
    ptr = dog.get_handle()
    del dog
    gc.collect()
    assert len(seen) == 1
    assert isinstance(seen[0].exc_value, OSError)
    # The failed release kept the dog; the wrapper is gone, so nothing can
    # retry: the native object is leaked, not freed twice.
    assert lib.rc_tn_is_alive(ptr) == 1
    assert lib.rc_tn_misuse_count() == 0
    lib.rc_tn_release(ptr)


class Kennel(Refcount.NativeHandle):
    """Release code that re-enters the library in every way it can."""

    def __init__(self, neighbour, other):
        super().__init__(new_dog(b"Kennel"), "kennel")
        self.neighbour = neighbour
        self.other = other
        self.created = None

    def do_release_handle(self):
        lib.rc_tn_release(self.get_handle())
        self.neighbour.release()                   # releases another handle
        self.other.add_ref()                       # takes a reference to a third
        self.created = Refcount.DeletableNativeHandle(new_dog(b"Pup"), lib.rc_tn_release, "dog")
        self.release()                             # on itself: a no-op now
        return True


def test_release_code_that_re_enters_the_library():
    neighbour = Refcount.DeletableNativeHandle(new_dog(b"Neighbour"), lib.rc_tn_release, "dog")
    other = Refcount.DeletableNativeHandle(new_dog(b"Other"), lib.rc_tn_release, "dog")
    neighbour_ptr = neighbour.get_handle()
    kennel = Kennel(neighbour, other)
    kennel.release()
    assert kennel.disposed is True
    assert neighbour.disposed is True and lib.rc_tn_is_alive(neighbour_ptr) == 0
    assert other.reference_count == 2
    assert kennel.created.reference_count == 1
    other.release()
    other.release()
    kennel.created.release()
    assert lib.rc_tn_dog_live_count() == 0
    assert lib.rc_tn_misuse_count() == 0


def test_last_reference_given_back_in_another_thread():
    ptr = new_dog(b"Traveller")
    handle = Refcount.DeletableNativeHandle(ptr, lib.rc_tn_release, "dog")
    handle.add_ref()
    released_in = []

    def work():
        handle.release()
        handle.release()
        released_in.append(threading.get_ident())

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert released_in and released_in[0] != threading.get_ident()
    assert handle.disposed is True
    assert lib.rc_tn_is_alive(ptr) == 0
    assert address_of(ptr) != 0
