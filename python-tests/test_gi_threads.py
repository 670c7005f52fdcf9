"""Handles shared by Python threads: balanced add_ref/release and borrows
from every thread, then the final release raced by all of them.  The native
object must be freed exactly once (the freed callback sees it once, no
misuse), whichever thread wins.

Synchronisation is by threading.Barrier/Event only; the switch interval is
lowered so that threads interleave as much as possible.  cffi calls release
the GIL, so the native library really runs concurrently.
"""

import gc
import threading
import time
import traceback

import gi

gi.require_version("Refcount", "1.0")
from gi.repository import GLib, Refcount  # noqa: E402

import pytest  # noqa: E402

from rcnative import address_of, ffi, lib, new_dog, timeout  # noqa: E402

N_THREADS = 8
ITERATIONS = 300
ROUNDS = 40
TIMEOUT = timeout(60)


class SharedDog(Refcount.NativeHandle):
    def __init__(self, handle=None, log=None, tag="shared"):
        super().__init__(handle, type_id="shared-dog")
        self.log = log
        self.tag = tag

    def do_release_handle(self):
        self.log.append((self.tag, self.address, threading.get_ident()))
        lib.rc_tn_release(ffi.cast("void *", self.address))
        return True


def run_in_threads(target, n=N_THREADS):
    """Runs target(i) in n threads; re-raises the first failure of any."""
    errors = []

    def guarded(i):
        try:
            target(i)
        except BaseException:  # noqa: B902 - reported to the main thread
            errors.append(traceback.format_exc())

    threads = [threading.Thread(target=guarded, args=(i,), name="rc-worker-%d" % i) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a worker thread is stuck"
    assert errors == [], "\n".join(errors)
    return [t.ident for t in threads]


def hammer(h, dog):
    """Balanced reference traffic on h from one thread."""
    for _ in range(ITERATIONS):
        h.add_ref()
        with h.borrow() as ptr:
            assert lib.rc_tn_is_alive(ptr) == 1
        h.release()
        ptr = h.acquire()
        assert ffi.string(lib.rc_tn_dog_get_name(ptr)) == b"Shared"
        h.release()
        assert h.disposed is False


def test_native_handle_shared_by_threads_is_released_once(fast_switching, freed_log):
    dog = new_dog(b"Shared")
    h = Refcount.DeletableNativeHandle(dog, lib.rc_tn_release, type_id="dog")
    for _ in range(N_THREADS - 1):
        h.add_ref()  # one reference per thread, the creator's included
    start = threading.Barrier(N_THREADS, timeout=TIMEOUT)
    final = threading.Barrier(N_THREADS, timeout=TIMEOUT)

    def work(i):
        start.wait()
        hammer(h, dog)
        final.wait()
        h.release()

    run_in_threads(work)
    assert h.disposed is True
    assert h.reference_count == 0
    assert lib.rc_tn_is_alive(dog) == 0
    assert freed_log.count(address_of(dog)) == 1
    assert lib.rc_tn_misuse_count() == 0


def test_python_subclass_shared_by_threads_is_released_once(fast_switching, freed_log):
    dog = new_dog(b"Shared")
    log = []
    h = SharedDog(dog, log=log, tag="threads")
    for _ in range(N_THREADS - 1):
        h.add_ref()
    start = threading.Barrier(N_THREADS, timeout=TIMEOUT)
    final = threading.Barrier(N_THREADS, timeout=TIMEOUT)

    def work(i):
        start.wait()
        hammer(h, dog)
        final.wait()
        h.release()

    idents = run_in_threads(work)
    assert len(log) == 1, log
    tag, address, thread = log[0]
    assert tag == "threads"
    assert address == address_of(dog)
    assert thread in idents
    assert lib.rc_tn_is_alive(dog) == 0
    assert freed_log.count(address_of(dog)) == 1


@pytest.mark.parametrize("kind", ["native", "python callable", "python subclass"])
def test_racing_final_release_over_many_rounds(kind, fast_switching, freed_log):
    go = threading.Barrier(N_THREADS + 1, timeout=TIMEOUT)
    done = threading.Barrier(N_THREADS + 1, timeout=TIMEOUT)
    current = [None]
    calls = []
    log = []

    def python_release(obj):
        calls.append(obj)
        lib.rc_tn_release(obj)

    def work(i):
        for _ in range(ROUNDS):
            go.wait()
            current[0].release()
            done.wait()

    def main_rounds():
        for round_ in range(ROUNDS):
            dog = new_dog(b"Round")
            if kind == "native":
                h = Refcount.DeletableNativeHandle(dog, lib.rc_tn_release, type_id="dog")
            elif kind == "python callable":
                h = Refcount.DeletableNativeHandle(dog, python_release, type_id="dog")
            else:
                h = SharedDog(dog, log=log, tag=round_)
            for _ in range(N_THREADS - 1):
                h.add_ref()
            freed_before = len(freed_log)
            current[0] = h
            go.wait()
            done.wait()
            current[0] = None
            assert h.disposed is True
            assert lib.rc_tn_is_alive(dog) == 0
            freed = freed_log[freed_before:]
            assert freed == [(address_of(dog), 1)], (round_, freed)
            if kind == "python callable":
                assert len(calls) == round_ + 1 and calls[-1] is dog
            if kind == "python subclass":
                assert [entry[0] for entry in log] == list(range(round_ + 1))
            del h

    failures = []

    def guarded_workers():
        try:
            run_in_threads(work)
        except BaseException:  # noqa: B902
            failures.append(traceback.format_exc())

    workers = threading.Thread(target=guarded_workers, name="rc-workers")
    workers.start()
    try:
        main_rounds()
    except BaseException:
        go.abort()
        done.abort()
        raise
    finally:
        workers.join(TIMEOUT)
    assert not workers.is_alive()
    assert failures == [], "\n".join(failures)
    assert lib.rc_tn_misuse_count() == 0


def test_borrows_racing_the_final_release_never_see_a_freed_object(fast_switching, freed_log):
    dog = new_dog(b"Shared")
    h = Refcount.DeletableNativeHandle(dog, lib.rc_tn_release, type_id="dog")
    borrowers = N_THREADS - 1
    # Looked up here: PyGObject fills in enum classes lazily, and a first
    # lookup racing in several threads may miss the members.
    disposed_code = int(Refcount.Error.DISPOSED)
    borrowed_once = [threading.Event() for _ in range(borrowers)]
    owner_released = threading.Event()
    refused = []
    successes = []

    def work(i):
        if i == borrowers:
            # The owner: lets go once every borrower is busy borrowing.
            for event in borrowed_once:
                assert event.wait(TIMEOUT)
            h.release()
            owner_released.set()
            return
        count = 0
        # Borrowers keep the handle alive as long as one of them holds a
        # borrow (that is the point of borrowing), so after the owner let go
        # each one borrows at most once more; the last one to give back
        # releases the dog, racing the others' attempts. The deadline is a
        # deadlock guard only.
        deadline = time.monotonic() + TIMEOUT
        while True:
            last_round = owner_released.is_set()
            try:
                with h.borrow() as ptr:
                    # Would count a misuse if the dog were freed under us.
                    assert ffi.string(lib.rc_tn_dog_get_name(ptr)) == b"Shared"
                    count += 1
                    borrowed_once[i].set()
            except GLib.Error as error:
                assert error.domain == "rc-error-quark"
                assert error.code == disposed_code
                refused.append(i)
                break
            if last_round:
                break
            assert time.monotonic() < deadline, "the owner never let go"
        successes.append(count)

    run_in_threads(work)
    assert len(successes) == borrowers
    assert all(count >= 1 for count in successes)
    assert set(refused) <= set(range(borrowers))
    assert h.disposed is True
    assert h.reference_count == 0
    # Borrowing after the release is refused, never a resurrection.
    with pytest.raises(GLib.Error):
        h.acquire()
    assert lib.rc_tn_is_alive(dog) == 0
    assert freed_log.count(address_of(dog)) == 1
    assert lib.rc_tn_misuse_count() == 0


def test_last_python_reference_dropped_in_another_thread(freed_log):
    dog = new_dog(b"Shared")
    log = []
    box = [SharedDog(dog, log=log, tag="dropped in a thread")]

    def work(i):
        box.clear()  # the last reference goes here
        gc.collect()

    run_in_threads(work, n=1)
    gc.collect()
    assert len(log) == 1
    assert log[0][0] == "dropped in a thread"
    assert lib.rc_tn_is_alive(dog) == 0
    assert freed_log.count(address_of(dog)) == 1
