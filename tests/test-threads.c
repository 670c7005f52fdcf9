/* test-threads.c: the exactly-once contract under threads
 *
 * The native resource behind a handle is released exactly once, never while
 * a reference or a borrow is outstanding, whatever the interleaving of
 * add_ref, acquire, release, decrement_ref and GObject dispose.
 *
 * Threads that must act at the same moment meet at a spinning barrier (an
 * atomic counter, with g_thread_yield() so that it also works with more
 * threads than cores); nothing sleeps.
 *
 * RC_TEST_QUICK=1 (set by the valgrind setup) runs 10x fewer operations and
 * rounds; RC_TEST_SEED=<n> replays the random operations of a previous run.
 *
 * SPDX-License-Identifier: MIT
 */

#include <string.h>

#include <refcount/refcount.h>

#include "rc-test-native.h"

/* A tight start at the barrier, for the closest races. */
#define RACE_GO_SPINS 20000
#include "test-race.h"
#include "test-common.h"

#define N_THREADS 8
#define N_SHARED 4

/* A handle over a dog, whose release function counts its calls. */
typedef struct
{
  void *dog;
  RcNativeHandle *handle;
  int release_calls;
  int notify_calls;
  int wrong_pointer;
  int weak_notify_calls;
} Slot;

static void
slot_release_func (gpointer handle,
                   gpointer user_data)
{
  Slot *slot = user_data;

  if (handle != slot->dog)
    g_atomic_int_inc (&slot->wrong_pointer);
  g_atomic_int_inc (&slot->release_calls);
  rc_tn_release (handle);
}

static void
slot_notify (gpointer user_data)
{
  Slot *slot = user_data;

  g_atomic_int_inc (&slot->notify_calls);
}

static void
slot_weak_notify (gpointer  user_data,
                  GObject  *where_the_object_was)
{
  Slot *slot = user_data;

  g_atomic_int_inc (&slot->weak_notify_calls);
}

static void
slot_reset (Slot *slot)
{
  slot->dog = NULL;
  slot->handle = NULL;
  g_atomic_int_set (&slot->release_calls, 0);
  g_atomic_int_set (&slot->notify_calls, 0);
  g_atomic_int_set (&slot->wrong_pointer, 0);
  g_atomic_int_set (&slot->weak_notify_calls, 0);
}

/* A handle with count 1 over a new dog. */
static void
slot_init (Slot *slot)
{
  slot_reset (slot);
  slot->dog = rc_tn_dog_new ("shared");
  slot->handle = RC_NATIVE_HANDLE (rc_deletable_native_handle_new (slot->dog, slot_release_func, slot,
                                                                   slot_notify, "DOG_PTR"));
  g_assert_nonnull (slot->handle);
  g_assert_cmpint (rc_reference_counter_get_reference_count (RC_REFERENCE_COUNTER (slot->handle)), ==, 1);
}

/* A handle with count @count over a new dog; @round picks one of the two
 * ways to get there. */
static void
slot_init_with_count (Slot  *slot,
                      int    count,
                      guint  round)
{
  if (round % 2 == 0)
    {
      g_autoptr(GError) error = NULL;

      slot_reset (slot);
      slot->dog = rc_tn_dog_new ("shared");
      slot->handle = RC_NATIVE_HANDLE (rc_deletable_native_handle_new (NULL, slot_release_func, slot,
                                                                       slot_notify, "DOG_PTR"));
      g_assert_nonnull (slot->handle);
      g_assert_true (rc_native_handle_set_handle (slot->handle, slot->dog, count - 1, &error));
      g_assert_no_error (error);
    }
  else
    {
      int i;

      slot_init (slot);
      for (i = 1; i < count; i++)
        rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (slot->handle));
    }
  g_assert_cmpint (rc_reference_counter_get_reference_count (RC_REFERENCE_COUNTER (slot->handle)), ==, count);
}

static int
slot_count (Slot *slot)
{
  return rc_reference_counter_get_reference_count (RC_REFERENCE_COUNTER (slot->handle));
}

static void
slot_assert_alive (Slot *slot)
{
  g_assert_cmpint (g_atomic_int_get (&slot->release_calls), ==, 0);
  g_assert_cmpint (g_atomic_int_get (&slot->notify_calls), ==, 0);
  g_assert_true (rc_tn_is_alive (slot->dog));
  g_assert_cmpint (rc_tn_get_ref_count (slot->dog), ==, 1);
  g_assert_false (rc_native_handle_is_disposed (slot->handle));
  g_assert_true (rc_native_handle_get_handle (slot->handle) == slot->dog);
}

/* Checks that need no live handle: the release ran once, on the right pointer. */
static void
slot_assert_released_once (Slot *slot)
{
  g_assert_cmpint (g_atomic_int_get (&slot->release_calls), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&slot->notify_calls), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&slot->wrong_pointer), ==, 0);
  g_assert_false (rc_tn_is_alive (slot->dog));
}

static void
slot_assert_released (Slot *slot)
{
  slot_assert_released_once (slot);
  g_assert_true (rc_native_handle_is_disposed (slot->handle));
  g_assert_true (rc_native_handle_is_invalid (slot->handle));
  g_assert_null (rc_native_handle_get_handle (slot->handle));
  g_assert_cmpint (slot_count (slot), ==, 0);
}

/* ------------------------------------------------------------------------
 * Random operations on shared handles
 * ------------------------------------------------------------------------ */

enum
{
  OP_ADD_REF,
  OP_ACQUIRE,
  OP_RELEASE,
  OP_DECREMENT,
  OP_BORROW_PAIR,
  OP_ADD_DECREMENT_PAIR,
  OP_GOBJECT_REF_PAIR,
  N_OPS
};

static const char * const op_names[N_OPS] = {
  "add_ref", "acquire", "release", "decrement_ref",
  "acquire+release", "add_ref+decrement_ref", "g_object_ref+unref",
};

typedef struct
{
  Slot *slots;
  guint32 seed;
  guint n_ops;
  guint64 op_counts[N_OPS];
  int max_held;
} RandomWorker;

/* Every reference the thread holds is still counted, plus the creator's. */
static void
assert_holds (Slot *slot,
              int   held)
{
  g_assert_cmpint (slot_count (slot), >=, held + 1);
  g_assert_false (rc_native_handle_is_disposed (slot->handle));
}

static void *
acquire_ok (Slot *slot)
{
  GError *error = NULL;
  void *pointer = rc_native_handle_acquire (slot->handle, &error);

  g_assert_no_error (error);
  g_assert_true (pointer == slot->dog);
  g_assert_true (rc_tn_is_alive (pointer));

  return pointer;
}

static gpointer
random_ops_thread (gpointer data)
{
  RandomWorker *worker = data;
  GRand *rand = g_rand_new_with_seed (worker->seed);
  int held[N_SHARED] = { 0 };
  guint i;
  int h;

  for (i = 0; i < worker->n_ops; i++)
    {
      int op = g_rand_int_range (rand, 0, N_OPS);
      Slot *slot;
      RcReferenceCounter *counter;

      h = g_rand_int_range (rand, 0, N_SHARED);
      slot = &worker->slots[h];
      counter = RC_REFERENCE_COUNTER (slot->handle);

      /* nothing to give back: take instead */
      if ((op == OP_RELEASE || op == OP_DECREMENT) && held[h] == 0)
        op = op == OP_RELEASE ? OP_ADD_REF : OP_ACQUIRE;

      switch (op)
        {
        case OP_ADD_REF:
          rc_reference_counter_add_ref (counter);
          held[h]++;
          assert_holds (slot, held[h]);
          break;

        case OP_ACQUIRE:
          acquire_ok (slot);
          held[h]++;
          assert_holds (slot, held[h]);
          break;

        case OP_RELEASE:
          assert_holds (slot, held[h]);
          rc_native_handle_release (slot->handle);
          held[h]--;
          break;

        case OP_DECREMENT:
          /* never the last reference (the creator holds one), so a raw
           * decrement gives back a reference as well as release would */
          assert_holds (slot, held[h]);
          rc_reference_counter_decrement_ref (counter);
          held[h]--;
          break;

        case OP_BORROW_PAIR:
          {
            void *pointer = acquire_ok (slot);

            g_assert_cmpint (rc_tn_get_ref_count (pointer), ==, 1);
            assert_holds (slot, held[h] + 1);
            rc_native_handle_release (slot->handle);
          }
          break;

        case OP_ADD_DECREMENT_PAIR:
          rc_reference_counter_add_ref (counter);
          assert_holds (slot, held[h] + 1);
          rc_reference_counter_decrement_ref (counter);
          break;

        case OP_GOBJECT_REF_PAIR:
          g_object_ref (slot->handle);
          assert_holds (slot, held[h]);
          g_object_unref (slot->handle);
          break;

        default:
          g_assert_not_reached ();
        }

      worker->op_counts[op]++;
      worker->max_held = MAX (worker->max_held, held[h]);
    }

  /* give back every reference taken, and only those */
  for (h = 0; h < N_SHARED; h++)
    {
      for (; held[h] > 0; held[h]--)
        {
          if (held[h] % 2 == 0)
            rc_native_handle_release (worker->slots[h].handle);
          else
            rc_reference_counter_decrement_ref (RC_REFERENCE_COUNTER (worker->slots[h].handle));
        }
    }

  g_rand_free (rand);

  return NULL;
}

static guint32
base_seed (void)
{
  const char *env = g_getenv ("RC_TEST_SEED");

  if (env != NULL && env[0] != '\0')
    return (guint32) g_ascii_strtoull (env, NULL, 0);

  return g_test_rand_int ();
}

static void
test_random_ops (void)
{
  State baseline;
  Slot slots[N_SHARED];
  RandomWorker workers[N_THREADS];
  GThread *threads[N_THREADS];
  guint64 totals[N_OPS] = { 0 };
  guint64 total = 0;
  guint32 seed = base_seed ();
  guint n_ops = scaled (100000);
  GString *summary;
  int max_held = 0;
  int i, j;

  g_test_message ("base seed %" G_GUINT32_FORMAT " (RC_TEST_SEED=%" G_GUINT32_FORMAT " replays it); "
                  "thread i uses seed base + i", seed, seed);

  state_begin (&baseline);
  for (i = 0; i < N_SHARED; i++)
    slot_init (&slots[i]);

  for (i = 0; i < N_THREADS; i++)
    {
      memset (&workers[i], 0, sizeof workers[i]);
      workers[i].slots = slots;
      workers[i].seed = seed + (guint32) i;
      workers[i].n_ops = n_ops;
      threads[i] = g_thread_new ("random-ops", random_ops_thread, &workers[i]);
    }
  for (i = 0; i < N_THREADS; i++)
    {
      g_thread_join (threads[i]);
      for (j = 0; j < N_OPS; j++)
        {
          totals[j] += workers[i].op_counts[j];
          total += workers[i].op_counts[j];
        }
      max_held = MAX (max_held, workers[i].max_held);
    }

  summary = g_string_new (NULL);
  for (j = 0; j < N_OPS; j++)
    g_string_append_printf (summary, " %s=%" G_GUINT64_FORMAT, op_names[j], totals[j]);
  g_test_message ("%" G_GUINT64_FORMAT " random operations on %d shared handles by %d threads%s "
                  "(most references held by one thread on one handle: %d):%s",
                  total, N_SHARED, N_THREADS, quick_mode () ? " (RC_TEST_QUICK)" : "",
                  max_held, summary->str);
  g_string_free (summary, TRUE);
  g_assert_cmpuint (total, ==, (guint64) n_ops * N_THREADS);

  /* every thread gave back what it took: only the creator's reference is left */
  for (i = 0; i < N_SHARED; i++)
    {
      g_assert_cmpint (slot_count (&slots[i]), ==, 1);
      slot_assert_alive (&slots[i]);
    }

  for (i = 0; i < N_SHARED; i++)
    {
      rc_native_handle_release (slots[i].handle);
      slot_assert_released (&slots[i]);
      g_object_unref (slots[i].handle);
      g_assert_cmpint (g_atomic_int_get (&slots[i].release_calls), ==, 1);
    }

  state_assert_all_released (&baseline);
}

/* ------------------------------------------------------------------------
 * Races: workers that start each round together
 *
 * Each round: the main thread prepares the shared state and publishes the
 * round number; the workers meet at a barrier that the last one to arrive
 * opens, so that the others are already spinning on a core when it opens;
 * each worker acts once; the last one to finish wakes the main thread (a
 * GCond wait, so that the main thread takes no core from the workers), which
 * checks the outcome (race_run() in test-race.h).
 * ------------------------------------------------------------------------ */

/* --- many threads release the very last references at once --- */

/* Handles per round: the workers release them in the same order, so that
 * they meet at each handle's last references while running side by side. */
#define LAST_RELEASE_HANDLES 8

static void
last_release_setup (Race  *race,
                    guint  round)
{
  Slot *slots = race->data;
  guint k;

  /* one reference per worker: the creator's plus n - 1 more */
  for (k = 0; k < LAST_RELEASE_HANDLES; k++)
    slot_init_with_count (&slots[k], (int) race->n_workers, round + k);
}

static void
last_release_worker (Race  *race,
                     guint  worker,
                     guint  round)
{
  Slot *slots = race->data;
  guint k;

  for (k = 0; k < LAST_RELEASE_HANDLES; k++)
    rc_native_handle_release (slots[k].handle);
}

static void
last_release_check (Race  *race,
                    guint  round)
{
  Slot *slots = race->data;
  guint k;

  for (k = 0; k < LAST_RELEASE_HANDLES; k++)
    {
      Slot *slot = &slots[k];

      slot_assert_released (slot);
      /* later calls are no-ops: no second release, no resurrection */
      rc_native_handle_release (slot->handle);
      rc_native_handle_dispose (slot->handle);
      rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (slot->handle));
      slot_assert_released (slot);
      g_object_unref (slot->handle);
      slot_assert_released_once (slot);
    }
}

static void
test_last_release_race (gconstpointer data)
{
  guint n_workers = GPOINTER_TO_UINT (data);
  State baseline;
  Slot slots[LAST_RELEASE_HANDLES];
  /* the pair is cheap and the likeliest to catch a racy decision: more rounds */
  guint rounds = scaled (n_workers == 2 ? 5000 : 1000);

  g_test_message ("%u rounds of %u threads releasing the last %u references of %d handles at once%s",
                  rounds, n_workers, n_workers, LAST_RELEASE_HANDLES,
                  quick_mode () ? " (RC_TEST_QUICK)" : "");
  state_begin (&baseline);
  race_run (n_workers, rounds, last_release_setup, last_release_worker, last_release_check, slots);
  state_assert_all_released (&baseline);
}

/* --- acquire racing the final release --- */

typedef struct
{
  Slot slot;
  int acquired;
  int refused;
} AcquireRace;

#define ACQUIRE_ATTEMPTS 8

static void
acquire_setup (Race  *race,
               guint  round)
{
  AcquireRace *state = race->data;

  slot_init (&state->slot);
}

static void
acquire_worker (Race  *race,
                guint  worker,
                guint  round)
{
  AcquireRace *state = race->data;
  Slot *slot = &state->slot;
  int i;

  /* one worker (a different one each round) drops the creator's reference */
  if (worker == round % race->n_workers)
    {
      rc_native_handle_release (slot->handle);
      return;
    }

  for (i = 0; i < ACQUIRE_ATTEMPTS; i++)
    {
      GError *error = NULL;
      void *pointer = rc_native_handle_acquire (slot->handle, &error);

      if (pointer == NULL)
        {
          /* refused only because the resource is gone, never resurrected */
          g_assert_error (error, RC_ERROR, RC_ERROR_DISPOSED);
          g_clear_error (&error);
          g_atomic_int_inc (&state->refused);
          return;
        }

      g_assert_no_error (error);
      g_assert_true (pointer == slot->dog);
      /* the borrow keeps the dog alive, whatever the other threads do */
      g_assert_true (rc_tn_is_alive (pointer));
      g_assert_cmpint (rc_tn_get_ref_count (pointer), ==, 1);
      g_assert_false (rc_native_handle_is_disposed (slot->handle));
      g_assert_cmpint (slot_count (slot), >=, 1);
      g_assert_cmpint (g_atomic_int_get (&slot->release_calls), ==, 0);
      g_assert_true (rc_tn_is_alive (pointer));
      g_atomic_int_inc (&state->acquired);
      rc_native_handle_release (slot->handle);
    }
}

static void
acquire_check (Race  *race,
               guint  round)
{
  AcquireRace *state = race->data;

  /* every borrow was given back and the creator released: released once */
  slot_assert_released (&state->slot);
  g_object_unref (state->slot.handle);
  slot_assert_released_once (&state->slot);
}

static void
test_acquire_vs_final_release (void)
{
  State baseline;
  AcquireRace state = { { 0, }, 0, 0 };
  guint rounds = scaled (1000);

  state_begin (&baseline);
  race_run (N_THREADS, rounds, acquire_setup, acquire_worker, acquire_check, &state);
  g_test_message ("%u rounds of 1 thread releasing while %d threads acquire%s: "
                  "%d borrows succeeded, %d refused with RC_ERROR_DISPOSED",
                  rounds, N_THREADS - 1, quick_mode () ? " (RC_TEST_QUICK)" : "",
                  state.acquired, state.refused);
  state_assert_all_released (&baseline);
}

/* --- releases racing the GObject dispose of the last g_object_ref --- */

static void
dispose_setup (Race  *race,
               guint  round)
{
  Slot *slot = race->data;
  guint i;

  slot_init (slot);
  g_object_weak_ref (G_OBJECT (slot->handle), slot_weak_notify, slot);
  /* each worker holds a GObject reference and a counted reference */
  for (i = 0; i < race->n_workers; i++)
    {
      g_object_ref (slot->handle);
      rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (slot->handle));
    }
  /* the creator lets go of the GObject: the wrapper's own reference is
   * released by whichever worker drops the last g_object_ref */
  g_object_unref (slot->handle);
  g_assert_cmpint (slot_count (slot), ==, (int) race->n_workers + 1);
}

static void
dispose_worker (Race  *race,
                guint  worker,
                guint  round)
{
  Slot *slot = race->data;
  RcNativeHandle *handle = slot->handle;

  /* alternate the order in which the workers let go of the two references
   * they hold; the GObject reference must go last, it keeps @handle valid */
  if ((worker + round) % 2 == 0)
    {
      rc_native_handle_release (handle);
      g_object_unref (handle);
    }
  else
    {
      g_object_ref (handle);
      g_object_unref (handle);
      rc_native_handle_release (handle);
      g_object_unref (handle);
    }
}

static void
dispose_check (Race  *race,
               guint  round)
{
  Slot *slot = race->data;

  /* the handle is gone: finalized by the last worker */
  g_assert_cmpint (g_atomic_int_get (&slot->weak_notify_calls), ==, 1);
  slot_assert_released_once (slot);
}

static void
test_release_vs_gobject_dispose (void)
{
  State baseline;
  Slot slot;
  guint rounds = scaled (1000);

  g_test_message ("%u rounds of %d threads dropping a counted reference and a GObject reference at once%s",
                  rounds, N_THREADS, quick_mode () ? " (RC_TEST_QUICK)" : "");
  state_begin (&baseline);
  race_run (N_THREADS, rounds, dispose_setup, dispose_worker, dispose_check, &slot);
  state_assert_all_released (&baseline);
}

/* --- releases racing an explicit GObject dispose (g_object_run_dispose) --- */

static void
run_dispose_setup (Race  *race,
                   guint  round)
{
  Slot *slot = race->data;
  guint i;

  slot_init (slot);
  for (i = 0; i < race->n_workers; i++)
    {
      g_object_ref (slot->handle);
      rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (slot->handle));
    }
  g_assert_cmpint (slot_count (slot), ==, (int) race->n_workers + 1);
}

static void
run_dispose_worker (Race  *race,
                    guint  worker,
                    guint  round)
{
  Slot *slot = race->data;
  RcNativeHandle *handle = slot->handle;

  /* one worker disposes the GObject (the wrapper's own reference) while the
   * others release theirs */
  if (worker == round % race->n_workers)
    g_object_run_dispose (G_OBJECT (handle));
  rc_native_handle_release (handle);
  g_object_unref (handle);
}

static void
run_dispose_check (Race  *race,
                   guint  round)
{
  Slot *slot = race->data;

  slot_assert_released (slot);
  /* the last unref disposes again: nothing more to release */
  g_object_unref (slot->handle);
  slot_assert_released_once (slot);
}

static void
test_release_vs_run_dispose (void)
{
  State baseline;
  Slot slot;
  guint rounds = scaled (1000);

  g_test_message ("%u rounds of %d threads releasing while one runs the GObject dispose%s",
                  rounds, N_THREADS, quick_mode () ? " (RC_TEST_QUICK)" : "");
  state_begin (&baseline);
  race_run (N_THREADS, rounds, run_dispose_setup, run_dispose_worker, run_dispose_check, &slot);
  state_assert_all_released (&baseline);
}

/* ------------------------------------------------------------------------
 * Independent handles created and dropped concurrently: the global live
 * counters stay exact
 * ------------------------------------------------------------------------ */

static gpointer
churn_thread (gpointer data)
{
  guint n = GPOINTER_TO_UINT (data);
  guint i;

  for (i = 0; i < n; i++)
    {
      void *dog = rc_tn_dog_new ("churn");
      RcNativeHandle *handle;

      if (i % 2 == 0)
        {
          handle = RC_NATIVE_HANDLE (rc_deletable_native_handle_new_native (dog, (gpointer) rc_tn_release,
                                                                            "DOG_PTR"));
          if (i % 4 == 0)
            rc_native_handle_release (handle);
          g_object_unref (handle);
        }
      else
        {
          handle = RC_NATIVE_HANDLE (rc_owning_native_handle_new (dog, NULL));
          g_object_unref (handle);
          rc_tn_release (dog);
        }
    }

  return NULL;
}

static void
test_live_counts (void)
{
  State baseline;
  GThread *threads[N_THREADS];
  guint n = scaled (5000);
  int i;

  g_test_message ("%d threads creating and dropping %u handles each%s",
                  N_THREADS, n, quick_mode () ? " (RC_TEST_QUICK)" : "");
  state_begin (&baseline);
  for (i = 0; i < N_THREADS; i++)
    threads[i] = g_thread_new ("churn", churn_thread, GUINT_TO_POINTER (n));
  for (i = 0; i < N_THREADS; i++)
    g_thread_join (threads[i]);
  state_assert_all_released (&baseline);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/threads/random-ops", test_random_ops);
  /* as many threads as the brief asks, and two: on a machine with few
   * cores, two threads are the likeliest to run the last release in step */
  g_test_add_data_func ("/threads/last-release-race", GUINT_TO_POINTER (N_THREADS), test_last_release_race);
  g_test_add_data_func ("/threads/last-release-race/pair", GUINT_TO_POINTER (2), test_last_release_race);
  g_test_add_func ("/threads/acquire-vs-final-release", test_acquire_vs_final_release);
  g_test_add_func ("/threads/release-vs-gobject-dispose", test_release_vs_gobject_dispose);
  g_test_add_func ("/threads/release-vs-run-dispose", test_release_vs_run_dispose);
  g_test_add_func ("/threads/live-counts", test_live_counts);

  return g_test_run ();
}
