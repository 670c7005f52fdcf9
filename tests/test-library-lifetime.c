/* test-library-lifetime.c: a release function keeps its library loaded
 *
 * SPDX-License-Identifier: MIT
 *
 * A handle whose release runs a native function keeps the shared object
 * that contains the function loaded until its release has run (or until it
 * is finalized without a release), then gives it back: closing the library
 * early (dlclose, cffi collecting an ffi.dlopen library, ctypes'
 * _ctypes.dlclose) can no longer make a release jump into unmapped memory.
 *
 * The functions come from librc-test-unload.so (tests/unloadable/), which
 * this program does not link with: it dlopen()s it (path in the environment
 * variable RC_TEST_UNLOAD_LIB, set by meson), gives its functions to
 * handles, and dlclose()s it while the handles live. "Loaded" is checked
 * with dlopen (path, RTLD_NOLOAD | RTLD_LAZY), whose handle is closed again
 * at once. A release that ran in an unmapped library would crash the test;
 * the test native library's counts say that it ran, once, on the right dog.
 *
 * RC_TEST_QUICK=1 (set by the valgrind setup) runs fewer rounds.
 */

#include <dlfcn.h>
#include <string.h>

#include <refcount/refcount.h>

#include "rc-test-native.h"
#include "test-common.h"
#include "test-race.h"

#define DOG_TYPE_ID "DOG_PTR"

/* ------------------------------------------------------------------------
 * The unloadable library
 * ------------------------------------------------------------------------ */

typedef struct
{
  void *dl;
  gpointer dog_release;                 /* void rc_tu_dog_release (void *) */
  RcReleaseFunc release_with_data;      /* counts in *user_data, releases */
  GDestroyNotify notify;                /* counts in *data */
} Lib;

static const char *
lib_path (void)
{
  const char *path = g_getenv ("RC_TEST_UNLOAD_LIB");

  g_assert_nonnull (path);
  g_assert_true (g_path_is_absolute (path));
  return path;
}

/* Whether the library is mapped, without loading it or keeping it. */
static gboolean
lib_is_loaded (void)
{
  void *probe = dlopen (lib_path (), RTLD_NOLOAD | RTLD_LAZY);

  if (probe == NULL)
    return FALSE;
  g_assert_cmpint (dlclose (probe), ==, 0);
  return TRUE;
}

static gpointer
lib_symbol (Lib        *lib,
            const char *name)
{
  gpointer symbol = dlsym (lib->dl, name);

  if (symbol == NULL)
    g_error ("%s: %s", name, dlerror ());
  return symbol;
}

/* Loads the library, which must not be loaded yet (else the test would
 * prove nothing). */
static void
lib_open (Lib *lib)
{
  g_assert_false (lib_is_loaded ());
  lib->dl = dlopen (lib_path (), RTLD_NOW | RTLD_LOCAL);
  if (lib->dl == NULL)
    g_error ("dlopen %s: %s", lib_path (), dlerror ());
  g_assert_true (lib_is_loaded ());
  lib->dog_release = lib_symbol (lib, "rc_tu_dog_release");
  lib->release_with_data = (RcReleaseFunc) lib_symbol (lib, "rc_tu_release_with_data");
  lib->notify = (GDestroyNotify) lib_symbol (lib, "rc_tu_notify");
}

/* Gives back the test's own reference; the function pointers may dangle
 * from now on, so they are forgotten. */
static void
lib_close (Lib *lib)
{
  g_assert_nonnull (lib->dl);
  g_assert_cmpint (dlclose (lib->dl), ==, 0);
  memset (lib, 0, sizeof *lib);
}

/* ------------------------------------------------------------------------
 * Tests
 * ------------------------------------------------------------------------ */

/* The library is not loaded by anything else: the premise of every test. */
static void
test_premise (void)
{
  Lib lib;

  g_assert_false (lib_is_loaded ());
  lib_open (&lib);
  lib_close (&lib);
  g_assert_false (lib_is_loaded ());
}

/* The public pin alone: two pins on one function keep the library past
 * the program's dlclose(), until the last is given back; a function of the
 * C library (that cannot be unloaded) needs none. */
static void
test_public_pin (void)
{
  RcLibraryPin *first, *second;
  Lib lib;

  g_assert_null (rc_library_pin_acquire (NULL));
  g_assert_null (rc_library_pin_acquire ((gconstpointer) rc_counter_init));
  rc_library_pin_release (NULL);

  lib_open (&lib);
  first = rc_library_pin_acquire (lib.dog_release);
  second = rc_library_pin_acquire (lib.dog_release);
  g_assert_nonnull (first);
  g_assert_true (first == second);
  lib_close (&lib);
  g_assert_true (lib_is_loaded ());
  rc_library_pin_release (first);
  g_assert_true (lib_is_loaded ());
  rc_library_pin_release (second);
  g_assert_false (lib_is_loaded ());
}

/* new_native with the address of a function in the library. */
static void
test_new_native (gconstpointer data)
{
  gboolean by_unref = GPOINTER_TO_INT (data);
  State state;
  Lib lib;
  gpointer dog;
  RcNativeHandle *h;

  state_begin (&state);
  lib_open (&lib);
  dog = rc_tn_dog_new ("Rex");
  h = RC_NATIVE_HANDLE (rc_deletable_native_handle_new_native (dog, lib.dog_release, DOG_TYPE_ID));
  lib_close (&lib);

  /* the handle keeps the library that holds its release function */
  g_assert_true (lib_is_loaded ());
  rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (h));
  rc_native_handle_release (h);
  g_assert_true (lib_is_loaded ());
  g_assert_true (rc_tn_is_alive (dog));

  /* the last release runs the function, then the library goes */
  if (by_unref)
    {
      g_object_unref (h);
      h = NULL;
    }
  else
    rc_native_handle_release (h);
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);
  g_assert_false (lib_is_loaded ());
  if (h != NULL)
    {
      g_assert_true (rc_native_handle_is_disposed (h));
      g_object_unref (h);
      g_assert_false (lib_is_loaded ());
    }
  state_assert_all_released (&state);
}

/* set_release_native on a handle made by g_object_new(), as bindings do. */
static void
test_set_release_native (void)
{
  State state;
  Lib lib;
  gpointer dog;
  RcDeletableNativeHandle *h;
  GError *error = NULL;

  state_begin (&state);
  lib_open (&lib);
  dog = rc_tn_dog_new ("Rex");
  h = g_object_new (RC_TYPE_DELETABLE_NATIVE_HANDLE, "handle", dog, "type-id", DOG_TYPE_ID, NULL);
  g_assert_true (rc_deletable_native_handle_set_release_native (h, lib.dog_release));
  lib_close (&lib);
  g_assert_true (lib_is_loaded ());
  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_false (lib_is_loaded ());
  g_object_unref (h);
  state_assert_all_released (&state);

  /* the function given first, the pointer set later */
  lib_open (&lib);
  dog = rc_tn_dog_new ("Rex");
  h = g_object_new (RC_TYPE_DELETABLE_NATIVE_HANDLE, NULL);
  g_assert_true (rc_deletable_native_handle_set_release_native (h, lib.dog_release));
  lib_close (&lib);
  g_assert_true (lib_is_loaded ());
  g_assert_true (rc_native_handle_set_handle (RC_NATIVE_HANDLE (h), dog, 0, &error));
  g_assert_no_error (error);
  g_assert_true (lib_is_loaded ());
  g_object_unref (h);   /* the last reference: released natively */
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_false (lib_is_loaded ());
  state_assert_all_released (&state);
}

/* rc_deletable_native_handle_new and set_release: both the release function
 * and the destroy notify live in the library. */
static void
test_release_func_and_notify (gconstpointer data)
{
  gboolean set_later = GPOINTER_TO_INT (data);
  State state;
  Lib lib;
  gpointer dog;
  RcDeletableNativeHandle *h;
  int calls = 0;

  state_begin (&state);
  lib_open (&lib);
  dog = rc_tn_dog_new ("Rex");
  if (set_later)
    {
      h = g_object_new (RC_TYPE_DELETABLE_NATIVE_HANDLE, "handle", dog, "type-id", DOG_TYPE_ID, NULL);
      g_assert_true (rc_deletable_native_handle_set_release (h, lib.release_with_data, &calls, lib.notify));
    }
  else
    h = rc_deletable_native_handle_new (dog, lib.release_with_data, &calls, lib.notify, DOG_TYPE_ID);
  lib_close (&lib);

  g_assert_true (lib_is_loaded ());
  g_assert_cmpint (calls, ==, 0);
  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  /* the release function, then the notify (each counts one) */
  g_assert_cmpint (g_atomic_int_get (&calls), ==, 2);
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_false (lib_is_loaded ());
  g_object_unref (h);
  g_assert_cmpint (g_atomic_int_get (&calls), ==, 2);
  state_assert_all_released (&state);
}

/* Finalized without a release (a reference never given back): the notify
 * runs, still in a loaded library, and the pin goes with the handle. */
static void
test_finalized_unreleased (gconstpointer data)
{
  gboolean with_notify = GPOINTER_TO_INT (data);
  State state;
  Lib lib;
  gpointer dog;
  RcNativeHandle *h;
  int calls = 0;

  state_begin (&state);
  lib_open (&lib);
  dog = rc_tn_dog_new ("Rex");
  if (with_notify)
    h = RC_NATIVE_HANDLE (rc_deletable_native_handle_new (dog, lib.release_with_data, &calls, lib.notify,
                                                          DOG_TYPE_ID));
  else
    h = RC_NATIVE_HANDLE (rc_deletable_native_handle_new_native (dog, lib.dog_release, DOG_TYPE_ID));
  lib_close (&lib);

  rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (h));
  g_assert_true (lib_is_loaded ());
  /* RC_DEBUG is empty here: no leak warning (it would be fatal) */
  g_object_unref (h);

  /* leaked on purpose: the release never ran, the notify did */
  g_assert_true (rc_tn_is_alive (dog));
  g_assert_cmpint (rc_tn_get_ref_count (dog), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&calls), ==, with_notify ? 1 : 0);
  g_assert_false (lib_is_loaded ());
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased + 1);

  rc_tn_release (dog);
  state_assert_clean (&state);
}

/* A handle never given a pointer holds the library until it is finalized. */
static void
test_never_set (void)
{
  State state;
  Lib lib;
  RcNativeHandle *h;

  state_begin (&state);
  lib_open (&lib);
  h = RC_NATIVE_HANDLE (rc_deletable_native_handle_new_native (NULL, lib.dog_release, DOG_TYPE_ID));
  lib_close (&lib);
  g_assert_true (lib_is_loaded ());
  g_assert_true (lib_is_loaded ());
  g_object_unref (h);
  g_assert_false (lib_is_loaded ());
  state_assert_all_released (&state);
}

/* Many handles share one library: it stays while any of them is not
 * released, in whatever order they go. */
static void
test_many_handles (void)
{
  State state;
  Lib lib;
  guint n = 300;
  RcNativeHandle **handles = g_new0 (RcNativeHandle *, n);
  gpointer *dogs = g_new0 (gpointer, n);
  int calls = 0;
  GRand *rand = g_rand_new_with_seed (g_test_rand_int ());
  guint i;

  state_begin (&state);
  lib_open (&lib);
  for (i = 0; i < n; i++)
    {
      dogs[i] = rc_tn_dog_new ("pack");
      switch (i % 3)
        {
        case 0:
          handles[i] = RC_NATIVE_HANDLE (rc_deletable_native_handle_new_native (dogs[i], lib.dog_release,
                                                                                DOG_TYPE_ID));
          break;
        case 1:
          handles[i] = RC_NATIVE_HANDLE (rc_deletable_native_handle_new (dogs[i], lib.release_with_data, &calls,
                                                                         lib.notify, DOG_TYPE_ID));
          break;
        default:
          handles[i] = RC_NATIVE_HANDLE (rc_deletable_native_handle_new (dogs[i], lib.release_with_data, NULL,
                                                                         NULL, DOG_TYPE_ID));
          break;
        }
    }
  lib_close (&lib);

  /* a random order */
  for (i = n - 1; i > 0; i--)
    {
      guint j = (guint) g_rand_int_range (rand, 0, (gint32) i + 1);
      RcNativeHandle *th = handles[i];
      gpointer td = dogs[i];

      handles[i] = handles[j];
      handles[j] = th;
      dogs[i] = dogs[j];
      dogs[j] = td;
    }

  for (i = 0; i < n; i++)
    {
      g_assert_true (lib_is_loaded ());
      if (i % 2 == 0)
        rc_native_handle_release (handles[i]);
      g_object_unref (handles[i]);
      g_assert_false (rc_tn_is_alive (dogs[i]));
    }
  g_assert_false (lib_is_loaded ());
  g_assert_cmpint (calls, ==, 2 * (int) (n / 3));

  g_rand_free (rand);
  g_free (handles);
  g_free (dogs);
  state_assert_all_released (&state);
}

/* The library loaded again after it went: a new pin, the same rules. */
static void
test_reload (void)
{
  State state;
  int round;

  state_begin (&state);
  for (round = 0; round < 3; round++)
    {
      Lib lib;
      gpointer dog = rc_tn_dog_new ("Rex");
      RcNativeHandle *h;

      lib_open (&lib);
      h = RC_NATIVE_HANDLE (rc_deletable_native_handle_new_native (dog, lib.dog_release, DOG_TYPE_ID));
      lib_close (&lib);
      g_assert_true (lib_is_loaded ());
      g_object_unref (h);
      g_assert_false (rc_tn_is_alive (dog));
      g_assert_false (lib_is_loaded ());
    }
  state_assert_all_released (&state);
}

/* Unloading runs the object's destructors in the thread that gave back the
 * last pin, and they may make and release handles of their own: the pin
 * records are re-entered from there (their lock is held across the
 * dlclose ()), without deadlock and with the records right. */

/* A release function of this program that no other test uses: its first
 * handle goes through the records' look-up and first-handle paths. */
static void
release_from_unload (gpointer dog)
{
  rc_tn_release (dog);
}

typedef struct
{
  int calls;
  gboolean was_loaded;
  gpointer dog;
} UnloadHook;

static void
on_unload (void *data)
{
  UnloadHook *hook = data;
  RcNativeHandle *h;
  RcLibraryPin *pin;

  hook->calls++;
  hook->dog = rc_tn_dog_new ("Fido");
  h = RC_NATIVE_HANDLE (rc_deletable_native_handle_new_native (hook->dog, (gpointer) release_from_unload,
                                                               DOG_TYPE_ID));
  g_object_unref (h);
  /* a function of this program needs no pin, even from here */
  pin = rc_library_pin_acquire ((gconstpointer) release_from_unload);
  g_assert_null (pin);
}

static void
test_unload_reenters (void)
{
  State state;
  Lib lib;
  UnloadHook hook = { 0, };
  void (*set_unload_hook) (void (*) (void *), void *);
  gpointer dog;
  RcNativeHandle *h;

  state_begin (&state);
  lib_open (&lib);
  set_unload_hook = lib_symbol (&lib, "rc_tu_set_unload_hook");
  set_unload_hook (on_unload, &hook);
  dog = rc_tn_dog_new ("Rex");
  h = RC_NATIVE_HANDLE (rc_deletable_native_handle_new_native (dog, lib.dog_release, DOG_TYPE_ID));
  lib_close (&lib);
  g_assert_true (lib_is_loaded ());
  g_assert_cmpint (hook.calls, ==, 0);

  /* the last pin goes with the handle: the object unloads, its
   * destructor makes and releases a handle in this thread */
  g_object_unref (h);
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_cmpint (hook.calls, ==, 1);
  g_assert_nonnull (hook.dog);
  g_assert_false (rc_tn_is_alive (hook.dog));
  g_assert_false (lib_is_loaded ());
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);

  /* the records still work: loaded again, pinned and unloaded again, with
   * no hook this time (the object forgot it) */
  lib_open (&lib);
  dog = rc_tn_dog_new ("Rex");
  h = RC_NATIVE_HANDLE (rc_deletable_native_handle_new_native (dog, lib.dog_release, DOG_TYPE_ID));
  lib_close (&lib);
  g_assert_true (lib_is_loaded ());
  g_object_unref (h);
  g_assert_false (lib_is_loaded ());
  g_assert_cmpint (hook.calls, ==, 1);
  state_assert_all_released (&state);
}

/* --- threads: handles over the library released and created by 8 threads --- */

#define N_THREADS 8
#define PER_WORKER 16

typedef struct
{
  Lib lib;
  int calls;
  int created;          /* workers done creating, this round */
  RcNativeHandle *handles[N_THREADS][PER_WORKER];
  gpointer dogs[N_THREADS][PER_WORKER];
  /* the library function pointers, valid while a handle holds it */
  gpointer dog_release;
  RcReleaseFunc release_with_data;
  GDestroyNotify notify;
} ThreadRace;

/* Each round: the library opened, a handle made, the library closed; the
 * workers make more handles while that one holds the library, then release
 * every handle at once, the keeper included. */
static void
threads_setup (Race  *race,
               guint  round)
{
  ThreadRace *tr = race->data;

  lib_open (&tr->lib);
  tr->dog_release = tr->lib.dog_release;
  tr->release_with_data = tr->lib.release_with_data;
  tr->notify = tr->lib.notify;
  g_atomic_int_set (&tr->calls, 0);
  g_atomic_int_set (&tr->created, 0);
  /* worker 0's first handle: made here, keeps the library for the others */
  tr->dogs[0][0] = rc_tn_dog_new ("keeper");
  tr->handles[0][0] = RC_NATIVE_HANDLE (rc_deletable_native_handle_new_native (tr->dogs[0][0], tr->dog_release,
                                                                               DOG_TYPE_ID));
  lib_close (&tr->lib);
  g_assert_true (lib_is_loaded ());
}

static void
threads_worker (Race  *race,
                guint  worker,
                guint  round)
{
  ThreadRace *tr = race->data;
  guint k;

  for (k = worker == 0 ? 1 : 0; k < PER_WORKER; k++)
    {
      gpointer dog = rc_tn_dog_new ("pack");

      tr->dogs[worker][k] = dog;
      if ((k + worker + round) % 2 == 0)
        tr->handles[worker][k] = RC_NATIVE_HANDLE (rc_deletable_native_handle_new_native (dog, tr->dog_release,
                                                                                          DOG_TYPE_ID));
      else
        tr->handles[worker][k] = RC_NATIVE_HANDLE (rc_deletable_native_handle_new (dog, tr->release_with_data,
                                                                                   &tr->calls, tr->notify,
                                                                                   DOG_TYPE_ID));
    }

  /* the function pointers stay valid until every worker holds the library
   * through its own handles: only then may the keeper go */
  g_atomic_int_inc (&tr->created);
  if (worker == 0)
    spin_until_at_least (&tr->created, (int) race->n_workers, 100);

  for (k = 0; k < PER_WORKER; k++)
    {
      if ((k + round) % 3 == 0)
        rc_native_handle_release (tr->handles[worker][k]);
      g_object_unref (tr->handles[worker][k]);
      g_assert_false (rc_tn_is_alive (tr->dogs[worker][k]));
    }
}

static void
threads_check (Race  *race,
               guint  round)
{
  ThreadRace *tr = race->data;
  guint w, k;
  int expected_calls = 0;

  for (w = 0; w < race->n_workers; w++)
    for (k = w == 0 ? 1 : 0; k < PER_WORKER; k++)
      if ((k + w + round) % 2 != 0)
        expected_calls += 2;
  g_assert_cmpint (g_atomic_int_get (&tr->calls), ==, expected_calls);
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);
  g_assert_false (lib_is_loaded ());
}

static void
test_threads (void)
{
  State state;
  ThreadRace *tr = g_new0 (ThreadRace, 1);
  guint rounds = scaled (200);

  g_test_message ("%u rounds of %d threads creating and releasing %d handles each over one "
                  "dlclose()d library%s", rounds, N_THREADS, PER_WORKER,
                  quick_mode () ? " (RC_TEST_QUICK)" : "");
  state_begin (&state);
  race_run (N_THREADS, rounds, threads_setup, threads_worker, threads_check, tr);
  state_assert_all_released (&state);
  g_free (tr);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/library-lifetime/premise", test_premise);
  g_test_add_func ("/library-lifetime/public-pin", test_public_pin);
  g_test_add_data_func ("/library-lifetime/new-native/release", GINT_TO_POINTER (FALSE), test_new_native);
  g_test_add_data_func ("/library-lifetime/new-native/unref", GINT_TO_POINTER (TRUE), test_new_native);
  g_test_add_func ("/library-lifetime/set-release-native", test_set_release_native);
  g_test_add_data_func ("/library-lifetime/release-func-and-notify/new", GINT_TO_POINTER (FALSE),
                        test_release_func_and_notify);
  g_test_add_data_func ("/library-lifetime/release-func-and-notify/set-release", GINT_TO_POINTER (TRUE),
                        test_release_func_and_notify);
  g_test_add_data_func ("/library-lifetime/finalized-unreleased/native", GINT_TO_POINTER (FALSE),
                        test_finalized_unreleased);
  g_test_add_data_func ("/library-lifetime/finalized-unreleased/with-notify", GINT_TO_POINTER (TRUE),
                        test_finalized_unreleased);
  g_test_add_func ("/library-lifetime/never-set", test_never_set);
  g_test_add_func ("/library-lifetime/many-handles", test_many_handles);
  g_test_add_func ("/library-lifetime/reload", test_reload);
  g_test_add_func ("/library-lifetime/unload-reenters", test_unload_reenters);
  g_test_add_func ("/library-lifetime/threads", test_threads);

  return g_test_run ();
}
