/* test-stress.c: thread stress beyond test-threads.c
 *
 * SPDX-License-Identifier: MIT
 *
 * - /stress/release-vs-last-unref: counted releases that really overlap the
 *   GObject dispose of the last reference.  Each worker holds a GObject
 *   reference and a counted one; in each round half of them (chosen at
 *   random) drop the GObject reference first and give back the counted one
 *   after, the others the other way round, and sometimes one of them also
 *   runs g_object_run_dispose.  A worker that has dropped its GObject
 *   reference may still release because the handle's finalize waits (an
 *   atomic "pending" count, no sleep) until every worker is done with it;
 *   the worker whose unref turns out to be the last gives its counted
 *   reference back from inside that dispose.  So the wrapper's release in
 *   dispose runs while other threads are inside rc_native_handle_release
 *   (the test counts how often it did).
 * - /stress/producer-consumer: handles created in one thread, handed over
 *   through a GAsyncQueue and released in another; some are shared (the
 *   producer releases its own reference while the consumer works), some are
 *   created empty and set by the consumer, some go to two consumers.
 * - /stress/reentrant-release: release_handle implementations that call back
 *   into the library from inside release_handle: they release another handle
 *   (and drop its last GObject reference, so its dispose and release run
 *   nested), take and give back a new reference to a third one (acquire, or
 *   add_ref), and create a new handle, while workers release everything
 *   concurrently.
 *
 * Every handle counts its release_handle calls atomically: each must be 1.
 * Every native object must be freed (rc_tn live counts back to the start),
 * none misused (rc_tn_misuse_count () == 0), every GObject finalized.
 * Threads meet at spinning barriers; nothing sleeps.
 *
 * RC_TEST_QUICK=1 (the valgrind setup) runs 10x fewer rounds and items;
 * RC_TEST_SEED=<n> replays the random choices (roles and orders; the thread
 * interleaving is up to the scheduler).
 */

#include <string.h>

#include <refcount/refcount.h>

#include "rc-test-native.h"
#include "test-race.h"
#include "test-common.h"

#define N_THREADS 8

static guint32
base_seed (void)
{
  const char *env = g_getenv ("RC_TEST_SEED");

  if (env != NULL && env[0] != '\0')
    return (guint32) g_ascii_strtoull (env, NULL, 0);

  return g_test_rand_int ();
}

static void
spin_until_zero (int *counter)
{
  guint spins = 0;

  while (g_atomic_int_get (counter) != 0)
    {
      if (++spins > 64)
        g_thread_yield ();
    }
}

/* ------------------------------------------------------------------------
 * Probes: what happened to one handle, written atomically by any thread
 * ------------------------------------------------------------------------ */

typedef struct
{
  int release_calls;
  int notify_calls;
  int finalized;
  int wrong_pointer;
  gpointer expected;
  int deletable;        /* an RcDeletableNativeHandle: its notify runs once */
} Probe;

static void
probe_reset (Probe    *probe,
             gpointer  expected)
{
  g_atomic_int_set (&probe->release_calls, 0);
  g_atomic_int_set (&probe->notify_calls, 0);
  g_atomic_int_set (&probe->finalized, 0);
  g_atomic_int_set (&probe->wrong_pointer, 0);
  g_atomic_pointer_set (&probe->expected, expected);
  g_atomic_int_set (&probe->deletable, FALSE);
}

static void
probe_saw (Probe    *probe,
           gpointer  ptr)
{
  if (ptr != g_atomic_pointer_get (&probe->expected))
    g_atomic_int_inc (&probe->wrong_pointer);
  g_atomic_int_inc (&probe->release_calls);
}

/* Object data is destroyed at finalize (weak references would already be
 * notified by g_object_run_dispose). */
static void
probe_finalized (gpointer data)
{
  Probe *probe = data;

  g_atomic_int_inc (&probe->finalized);
}

static void
probe_watch (Probe   *probe,
             gpointer object)
{
  g_object_set_data_full (G_OBJECT (object), "stress-probe", probe, probe_finalized);
}

static void
probe_release_func (gpointer ptr,
                    gpointer user_data)
{
  probe_saw (user_data, ptr);
  rc_tn_release (ptr);
}

static void
probe_notify (gpointer user_data)
{
  Probe *probe = user_data;

  g_atomic_int_inc (&probe->notify_calls);
}

static void
probe_assert_released_once (Probe *probe)
{
  g_assert_cmpint (g_atomic_int_get (&probe->release_calls), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&probe->wrong_pointer), ==, 0);
}

static void
probe_assert_done (Probe *probe)
{
  probe_assert_released_once (probe);
  g_assert_cmpint (g_atomic_int_get (&probe->finalized), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&probe->notify_calls), ==, g_atomic_int_get (&probe->deletable) ? 1 : 0);
}

static RcNativeHandle *
deletable_new (gpointer  dog,
               Probe    *probe)
{
  RcNativeHandle *handle;

  probe_reset (probe, dog);
  g_atomic_int_set (&probe->deletable, TRUE);
  handle = RC_NATIVE_HANDLE (rc_deletable_native_handle_new (dog, probe_release_func, probe,
                                                             probe_notify, "DOG_PTR"));
  probe_watch (probe, handle);
  return handle;
}

/* ------------------------------------------------------------------------
 * StressHandle: releases a dog; optionally
 *  - a gate: finalize waits until the racing workers are done with it, and
 *    a worker that dropped the last GObject reference gives its counted
 *    reference back from dispose;
 *  - a next handle (a GObject and a counted reference), released and
 *    unreffed from release_handle;
 *  - a third handle (a GObject reference), on which release_handle takes
 *    and gives back a reference;
 *  - a place to put a handle created from release_handle.
 * ------------------------------------------------------------------------ */

typedef struct
{
  int pending;            /* workers that may still touch the handle */
  int in_release;         /* workers on their way to (or inside) their counted release */
  int disposing;          /* the dispose of the last GObject reference has begun */
  int overlapped;         /* it began while another worker was on its way */
  int from_dispose;       /* release_handle ran inside that dispose */
} Gate;

#define STRESS_TYPE_HANDLE (stress_handle_get_type ())
G_DECLARE_FINAL_TYPE (StressHandle, stress_handle, STRESS, HANDLE, RcNativeHandle)

struct _StressHandle
{
  RcNativeHandle parent_instance;

  Probe *probe;
  Gate *gate;
  RcNativeHandle *next;
  RcNativeHandle *third;
  gboolean third_by_add_ref;
  RcNativeHandle **spawn_into;
  Probe *spawn_probe;
};

G_DEFINE_FINAL_TYPE (StressHandle, stress_handle, RC_TYPE_NATIVE_HANDLE)

/* The handle whose counted reference this thread still owes after dropping
 * its GObject reference. */
static GPrivate owed_release;
/* The handle whose GObject dispose this thread is running. */
static GPrivate in_dispose;

static gboolean
stress_handle_release_handle (RcNativeHandle *handle)
{
  StressHandle *self = STRESS_HANDLE (handle);
  gpointer ptr = rc_native_handle_get_handle (handle);
  RcNativeHandle *next = g_atomic_pointer_exchange (&self->next, NULL);
  RcNativeHandle *third = g_atomic_pointer_exchange (&self->third, NULL);
  gboolean borrowed = FALSE;

  probe_saw (self->probe, ptr);
  if (self->gate != NULL && g_private_get (&in_dispose) == self)
    g_atomic_int_inc (&self->gate->from_dispose);
  rc_tn_release (ptr);

  /* a new reference to a third handle, held across the rest */
  if (third != NULL)
    {
      if (self->third_by_add_ref)
        {
          /* a no-op if it is released already, and then so is the release */
          rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (third));
          borrowed = TRUE;
        }
      else
        {
          GError *error = NULL;
          gpointer third_ptr = rc_native_handle_acquire (third, &error);

          if (third_ptr != NULL)
            {
              g_assert_no_error (error);
              /* the borrow keeps its dog alive */
              g_assert_cmpint (rc_tn_is_alive (third_ptr), ==, 1);
              borrowed = TRUE;
            }
          else
            {
              g_assert_error (error, RC_ERROR, RC_ERROR_DISPOSED);
              g_clear_error (&error);
            }
        }
    }

  /* a new handle */
  if (self->spawn_into != NULL)
    g_atomic_pointer_set (self->spawn_into, deletable_new (rc_tn_dog_new ("spawned"), self->spawn_probe));

  /* another handle: its count and, maybe, its last GObject reference */
  if (next != NULL)
    {
      rc_native_handle_release (next);
      g_object_unref (next);
    }

  if (third != NULL)
    {
      if (borrowed)
        rc_native_handle_release (third);
      g_object_unref (third);
    }

  return TRUE;
}

static void
stress_handle_dispose (GObject *object)
{
  StressHandle *self = STRESS_HANDLE (object);
  gboolean owed = g_private_get (&owed_release) == self;
  gpointer outer = g_private_get (&in_dispose);

  /* the last GObject reference (g_object_run_dispose holds one more) */
  if (self->gate != NULL && g_atomic_int_get ((int *) &object->ref_count) == 1)
    {
      /* other workers (not this one) have a counted release in flight */
      if (g_atomic_int_get (&self->gate->in_release) > (owed ? 1 : 0))
        g_atomic_int_inc (&self->gate->overlapped);
      g_atomic_int_set (&self->gate->disposing, 1);
    }

  /* the wrapper's own reference */
  g_private_set (&in_dispose, self);
  G_OBJECT_CLASS (stress_handle_parent_class)->dispose (object);
  g_private_set (&in_dispose, outer);

  if (owed)
    {
      /* this thread dropped the last GObject reference before giving its
       * counted one back: the object is still whole, give it back now */
      g_private_set (&owed_release, NULL);
      rc_native_handle_release (RC_NATIVE_HANDLE (self));
      g_atomic_int_add (&self->gate->in_release, -1);
      g_atomic_int_add (&self->gate->pending, -1);
    }
}

static void
stress_handle_finalize (GObject *object)
{
  StressHandle *self = STRESS_HANDLE (object);

  /* workers that dropped their GObject reference first may still be
   * releasing their counted one */
  if (self->gate != NULL)
    spin_until_zero (&self->gate->pending);

  /* if never released (not in these tests) */
  g_clear_object (&self->next);
  g_clear_object (&self->third);

  G_OBJECT_CLASS (stress_handle_parent_class)->finalize (object);
}

static void
stress_handle_class_init (StressHandleClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = stress_handle_dispose;
  object_class->finalize = stress_handle_finalize;
  RC_NATIVE_HANDLE_CLASS (klass)->release_handle = stress_handle_release_handle;
}

static void
stress_handle_init (StressHandle *self)
{
}

static StressHandle *
stress_handle_new (gpointer  dog,
                   Probe    *probe)
{
  StressHandle *handle;

  probe_reset (probe, dog);
  handle = g_object_new (STRESS_TYPE_HANDLE, "handle", dog, "type-id", "DOG_PTR", NULL);
  handle->probe = probe;
  probe_watch (probe, handle);
  return handle;
}

/* Fisher-Yates over 0..n-1. */
static void
shuffle (GRand *rand,
         guint *items,
         guint  n)
{
  guint i;

  for (i = 0; i < n; i++)
    items[i] = i;
  for (i = n; i > 1; i--)
    {
      guint j = (guint) g_rand_int_range (rand, 0, (gint32) i);
      guint tmp = items[i - 1];

      items[i - 1] = items[j];
      items[j] = tmp;
    }
}

/* ------------------------------------------------------------------------
 * Releases overlapping the dispose of the last GObject reference
 * ------------------------------------------------------------------------ */

enum
{
  ROLE_RELEASE_FIRST,
  ROLE_UNREF_FIRST,
};

typedef struct
{
  guint32 seed;
  Probe probe;
  Gate gate;
  gpointer dog;
  StressHandle *handle;
  int roles[N_THREADS];
  int run_dispose_worker;     /* or -1 */
  gboolean wait_for_dispose;  /* unref-first workers release only once it began */
  int overlapped_rounds;
  int from_dispose_rounds;
  int run_dispose_rounds;
} DisposeRace;

static void
dispose_race_setup (Race  *race,
                    guint  round)
{
  DisposeRace *state = race->data;
  GRand *rand = g_rand_new_with_seed (state->seed + round);
  guint order[N_THREADS];
  guint i;

  memset (&state->gate, 0, sizeof state->gate);
  g_atomic_int_set (&state->gate.pending, (int) race->n_workers);
  state->dog = rc_tn_dog_new ("disposed");
  state->handle = stress_handle_new (state->dog, &state->probe);
  state->handle->gate = &state->gate;

  /* each worker: a GObject reference and a counted one */
  for (i = 0; i < race->n_workers; i++)
    {
      g_object_ref (state->handle);
      rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (state->handle));
    }
  /* the creator lets go of its GObject reference: the wrapper's counted
   * reference goes with the workers' last GObject reference */
  g_object_unref (state->handle);
  g_assert_cmpint (rc_reference_counter_get_reference_count (RC_REFERENCE_COUNTER (state->handle)),
                   ==, (int) race->n_workers + 1);

  /* half and half, at random */
  shuffle (rand, order, race->n_workers);
  for (i = 0; i < race->n_workers; i++)
    state->roles[order[i]] = i < race->n_workers / 2 ? ROLE_RELEASE_FIRST : ROLE_UNREF_FIRST;
  state->run_dispose_worker = g_rand_boolean (rand) ? g_rand_int_range (rand, 0, (gint32) race->n_workers) : -1;
  if (state->run_dispose_worker >= 0)
    state->run_dispose_rounds++;
  state->wait_for_dispose = g_rand_int_range (rand, 0, 4) != 0;
  g_rand_free (rand);
}

static void
dispose_race_worker (Race  *race,
                     guint  worker,
                     guint  round)
{
  DisposeRace *state = race->data;
  StressHandle *handle = state->handle;
  Gate *gate = &state->gate;

  if ((int) worker == state->run_dispose_worker)
    g_object_run_dispose (G_OBJECT (handle));

  /* from here until our counted release is done, a dispose in another
   * thread overlaps it */
  g_atomic_int_inc (&gate->in_release);
  if (state->roles[worker] == ROLE_RELEASE_FIRST)
    {
      rc_native_handle_release (RC_NATIVE_HANDLE (handle));
      g_atomic_int_add (&gate->in_release, -1);
      g_atomic_int_add (&gate->pending, -1);
      /* our own GObject reference kept it whole until here */
      g_object_unref (handle);
    }
  else
    {
      g_private_set (&owed_release, handle);
      g_object_unref (handle);
      if (g_private_get (&owed_release) == handle)
        {
          /* not the last GObject reference: finalize waits for us.  Most
           * rounds, release only once the dispose of the last reference
           * has begun, so that the two really run at the same time (it
           * begins: every GObject reference is dropped without waiting). */
          g_private_set (&owed_release, NULL);
          if (state->wait_for_dispose)
            spin_until_at_least (&gate->disposing, 1, 64);
          rc_native_handle_release (RC_NATIVE_HANDLE (handle));
          g_atomic_int_add (&gate->in_release, -1);
          g_atomic_int_add (&gate->pending, -1);
        }
      /* else it was given back inside our own dispose */
    }
}

static void
dispose_race_check (Race  *race,
                    guint  round)
{
  DisposeRace *state = race->data;

  probe_assert_done (&state->probe);
  g_assert_cmpint (rc_tn_is_alive (state->dog), ==, 0);
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);
  g_assert_cmpint (g_atomic_int_get (&state->gate.pending), ==, 0);
  g_assert_cmpint (g_atomic_int_get (&state->gate.in_release), ==, 0);
  if (g_atomic_int_get (&state->gate.overlapped) > 0)
    state->overlapped_rounds++;
  if (g_atomic_int_get (&state->gate.from_dispose) > 0)
    state->from_dispose_rounds++;
}

static void
test_release_vs_last_unref (void)
{
  State baseline;
  DisposeRace state;
  guint rounds = scaled (15000);

  memset (&state, 0, sizeof state);
  state.seed = base_seed ();
  g_test_message ("seed %" G_GUINT32_FORMAT " (RC_TEST_SEED replays the roles); %u rounds of %d threads%s",
                  state.seed, rounds, N_THREADS, quick_mode () ? " (RC_TEST_QUICK)" : "");
  state_begin (&baseline);
  race_run (N_THREADS, rounds, dispose_race_setup, dispose_race_worker, dispose_race_check, &state);
  g_test_message ("the dispose of the last GObject reference began while another worker's counted "
                  "release was in flight in %d rounds; release_handle ran from that dispose in %d rounds; "
                  "g_object_run_dispose raced in %d rounds",
                  state.overlapped_rounds, state.from_dispose_rounds, state.run_dispose_rounds);
  state_assert_all_released (&baseline);
}

/* ------------------------------------------------------------------------
 * Over-release: every worker gives back "the" last reference at once
 *
 * The handle holds one reference (the wrapper's) and every worker calls a
 * terminal operation on it at the same moment: release, dispose,
 * drop_wrapper_reference or g_object_run_dispose (as .NET code may call
 * Dispose from several threads, or Python's `with` and its GC race).  One
 * of them wins; release_handle runs exactly once, and the wrapper's
 * reference is given back by drop_wrapper_reference at most once.
 * ------------------------------------------------------------------------ */

enum
{
  TERMINAL_RELEASE,
  TERMINAL_DISPOSE,
  TERMINAL_DROP_WRAPPER,
  TERMINAL_RUN_DISPOSE,
  N_TERMINALS
};

typedef struct
{
  guint32 seed;
  Probe probe;
  gpointer dog;
  RcNativeHandle *handle;
  int ops[N_THREADS];
  int drops_won;
  int drop_callers;
  int run_dispose_callers;
  guint64 op_counts[N_TERMINALS];
} OverRelease;

static void
over_release_setup (Race  *race,
                    guint  round)
{
  OverRelease *state = race->data;
  GRand *rand = g_rand_new_with_seed (state->seed + round);
  guint i;

  state->dog = rc_tn_dog_new ("over-released");
  if (round % 2 == 0)
    state->handle = deletable_new (state->dog, &state->probe);
  else
    state->handle = RC_NATIVE_HANDLE (stress_handle_new (state->dog, &state->probe));
  g_atomic_int_set (&state->drops_won, 0);
  state->drop_callers = 0;
  state->run_dispose_callers = 0;
  for (i = 0; i < race->n_workers; i++)
    {
      state->ops[i] = g_rand_int_range (rand, 0, N_TERMINALS);
      state->op_counts[state->ops[i]]++;
      if (state->ops[i] == TERMINAL_DROP_WRAPPER)
        state->drop_callers++;
      if (state->ops[i] == TERMINAL_RUN_DISPOSE)
        state->run_dispose_callers++;
      /* each worker keeps the object whole while it acts */
      g_object_ref (state->handle);
    }
  g_rand_free (rand);
}

static void
over_release_worker (Race  *race,
                     guint  worker,
                     guint  round)
{
  OverRelease *state = race->data;
  RcNativeHandle *handle = state->handle;

  switch (state->ops[worker])
    {
    case TERMINAL_RELEASE:
      rc_native_handle_release (handle);
      break;
    case TERMINAL_DISPOSE:
      rc_native_handle_dispose (handle);
      break;
    case TERMINAL_DROP_WRAPPER:
      if (rc_native_handle_drop_wrapper_reference (handle))
        g_atomic_int_inc (&state->drops_won);
      break;
    case TERMINAL_RUN_DISPOSE:
      g_object_run_dispose (G_OBJECT (handle));
      break;
    default:
      g_assert_not_reached ();
    }
  /* (not is_disposed () yet: the winner may still be inside release_handle,
   * and the others return at once) */
  g_object_unref (handle);
}

static void
over_release_check (Race  *race,
                    guint  round)
{
  OverRelease *state = race->data;
  RcNativeHandle *handle = state->handle;
  gboolean late_drop;

  probe_assert_released_once (&state->probe);
  g_assert_cmpint (rc_tn_is_alive (state->dog), ==, 0);
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);
  g_assert_cmpint (g_atomic_int_get (&state->drops_won), <=, 1);
  g_assert_cmpint (g_atomic_int_get (&state->drops_won), <=, state->drop_callers);
  g_assert_true (rc_native_handle_is_disposed (handle));
  g_assert_null (rc_native_handle_get_handle (handle));
  g_assert_cmpint (rc_reference_counter_get_reference_count (RC_REFERENCE_COUNTER (handle)), ==, 0);
  /* the wrapper's reference goes once: by a drop_wrapper_reference or a
   * run_dispose of the round, else now (releasing nothing more) */
  late_drop = rc_native_handle_drop_wrapper_reference (handle);
  if (state->drop_callers + state->run_dispose_callers > 0)
    g_assert_false (late_drop);
  probe_assert_released_once (&state->probe);
  g_object_unref (handle);
  probe_assert_done (&state->probe);
}

static void
test_over_release (void)
{
  State baseline;
  OverRelease state;
  guint rounds = scaled (30000);

  memset (&state, 0, sizeof state);
  state.seed = base_seed ();
  g_test_message ("seed %" G_GUINT32_FORMAT "; %u rounds of %d threads giving back the one reference at once%s",
                  state.seed, rounds, N_THREADS, quick_mode () ? " (RC_TEST_QUICK)" : "");
  state_begin (&baseline);
  race_run (N_THREADS, rounds, over_release_setup, over_release_worker, over_release_check, &state);
  g_test_message ("calls: release %" G_GUINT64_FORMAT ", dispose %" G_GUINT64_FORMAT
                  ", drop_wrapper_reference %" G_GUINT64_FORMAT ", g_object_run_dispose %" G_GUINT64_FORMAT,
                  state.op_counts[TERMINAL_RELEASE], state.op_counts[TERMINAL_DISPOSE],
                  state.op_counts[TERMINAL_DROP_WRAPPER], state.op_counts[TERMINAL_RUN_DISPOSE]);
  state_assert_all_released (&baseline);
}

/* ------------------------------------------------------------------------
 * Created in one thread, released in another
 * ------------------------------------------------------------------------ */

#define N_PRODUCERS 2
#define N_CONSUMERS 3

enum
{
  ITEM_HANDED_OVER,     /* the producer gives everything to the consumer */
  ITEM_SHARED,          /* the producer releases its own references meanwhile */
  ITEM_DEFERRED,        /* created empty, set by the consumer */
  ITEM_TWICE,           /* two consumers get it */
  N_ITEM_KINDS
};

typedef struct
{
  RcNativeHandle *handle;   /* NULL: stop */
  Probe *probe;
  int kind;
  /* Set last by the producer, read first by the consumer: the hand-over
   * through the queue, in a form ThreadSanitizer sees (GLib's own locks
   * are not instrumented). */
  int published;
} Item;

typedef struct
{
  GAsyncQueue *queue;
  Probe *probes;            /* one per handle */
  guint n_per_producer;
  guint32 seed;
  int consumed[N_ITEM_KINDS];
} ProducerConsumer;

typedef struct
{
  ProducerConsumer *pc;
  guint index;
} Producer;

static void
push_item (ProducerConsumer *pc,
           RcNativeHandle   *handle,
           Probe            *probe,
           int               kind)
{
  Item *item = g_new0 (Item, 1);

  item->handle = handle;
  item->probe = probe;
  item->kind = kind;
  g_atomic_int_set (&item->published, 1);
  g_async_queue_push (pc->queue, item);
}

static gpointer
producer_thread (gpointer data)
{
  Producer *producer = data;
  ProducerConsumer *pc = producer->pc;
  GRand *rand = g_rand_new_with_seed (pc->seed + producer->index);
  guint i;

  for (i = 0; i < pc->n_per_producer; i++)
    {
      Probe *probe = &pc->probes[producer->index * pc->n_per_producer + i];
      int kind = g_rand_int_range (rand, 0, N_ITEM_KINDS);
      RcNativeHandle *handle;

      switch (kind)
        {
        case ITEM_HANDED_OVER:
          handle = deletable_new (rc_tn_dog_new ("handed over"), probe);
          push_item (pc, handle, probe, kind);
          break;

        case ITEM_SHARED:
          handle = RC_NATIVE_HANDLE (stress_handle_new (rc_tn_dog_new ("shared"), probe));
          /* a GObject and a counted reference for us, a counted one for
           * the consumer (which also gets the creation's GObject one) */
          g_object_ref (handle);
          rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (handle));
          rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (handle));
          push_item (pc, handle, probe, kind);
          /* our borrow, then our references, while the consumer works */
          {
            GError *error = NULL;
            gpointer ptr = rc_native_handle_acquire (handle, &error);

            g_assert_no_error (error);
            g_assert_cmpint (rc_tn_is_alive (ptr), ==, 1);
            rc_native_handle_release (handle);
          }
          rc_native_handle_release (handle);
          g_object_unref (handle);
          break;

        case ITEM_DEFERRED:
          probe_reset (probe, NULL);
          g_atomic_int_set (&probe->deletable, TRUE);
          handle = RC_NATIVE_HANDLE (rc_deletable_native_handle_new (NULL, probe_release_func, probe,
                                                                     probe_notify, "DOG_PTR"));
          probe_watch (probe, handle);
          push_item (pc, handle, probe, kind);
          break;

        case ITEM_TWICE:
          handle = deletable_new (rc_tn_dog_new ("twice"), probe);
          /* a GObject and a counted reference for each consumer */
          g_object_ref (handle);
          rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (handle));
          rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (handle));
          push_item (pc, handle, probe, kind);
          push_item (pc, handle, probe, kind);
          break;

        default:
          g_assert_not_reached ();
        }
    }

  g_rand_free (rand);
  return NULL;
}

static gpointer
consumer_thread (gpointer data)
{
  ProducerConsumer *pc = data;

  for (;;)
    {
      Item *item = g_async_queue_pop (pc->queue);
      RcNativeHandle *handle;
      GError *error = NULL;
      gpointer ptr;

      g_assert_cmpint (g_atomic_int_get (&item->published), ==, 1);
      handle = item->handle;
      if (handle == NULL)
        {
          g_free (item);
          break;
        }
      g_atomic_int_inc (&pc->consumed[item->kind]);

      if (item->kind == ITEM_DEFERRED)
        {
          gpointer dog = rc_tn_dog_new ("deferred");

          g_atomic_pointer_set (&item->probe->expected, dog);
          g_assert_true (rc_native_handle_set_handle (handle, dog, 0, &error));
          g_assert_no_error (error);
        }

      /* use it under a borrow */
      ptr = rc_native_handle_acquire (handle, &error);
      g_assert_no_error (error);
      g_assert_nonnull (rc_tn_dog_get_name (ptr));
      rc_native_handle_release (handle);

      /* our references: a counted one, then the GObject one (whose dispose
       * gives back the wrapper's) */
      if (item->kind == ITEM_SHARED || item->kind == ITEM_TWICE)
        rc_native_handle_release (handle);
      g_object_unref (handle);
      g_free (item);
    }

  return NULL;
}

static void
test_producer_consumer (void)
{
  State baseline;
  ProducerConsumer pc;
  Producer producers[N_PRODUCERS];
  GThread *producer_threads[N_PRODUCERS];
  GThread *consumer_threads[N_CONSUMERS];
  guint n_handles;
  guint i;

  memset (&pc, 0, sizeof pc);
  pc.seed = base_seed ();
  pc.n_per_producer = scaled (150000);
  n_handles = pc.n_per_producer * N_PRODUCERS;
  pc.probes = g_new0 (Probe, n_handles);
  pc.queue = g_async_queue_new ();

  g_test_message ("seed %" G_GUINT32_FORMAT "; %d producers x %u handles, %d consumers%s",
                  pc.seed, N_PRODUCERS, pc.n_per_producer, N_CONSUMERS,
                  quick_mode () ? " (RC_TEST_QUICK)" : "");
  state_begin (&baseline);

  for (i = 0; i < N_CONSUMERS; i++)
    consumer_threads[i] = g_thread_new ("consumer", consumer_thread, &pc);
  for (i = 0; i < N_PRODUCERS; i++)
    {
      producers[i].pc = &pc;
      producers[i].index = i;
      producer_threads[i] = g_thread_new ("producer", producer_thread, &producers[i]);
    }
  for (i = 0; i < N_PRODUCERS; i++)
    g_thread_join (producer_threads[i]);
  for (i = 0; i < N_CONSUMERS; i++)
    push_item (&pc, NULL, NULL, 0);
  for (i = 0; i < N_CONSUMERS; i++)
    g_thread_join (consumer_threads[i]);

  for (i = 0; i < n_handles; i++)
    probe_assert_done (&pc.probes[i]);
  g_test_message ("consumed: handed over %d, shared %d, set by the consumer %d, two consumers %d (x2)",
                  pc.consumed[ITEM_HANDED_OVER], pc.consumed[ITEM_SHARED],
                  pc.consumed[ITEM_DEFERRED], pc.consumed[ITEM_TWICE] / 2);
  g_assert_cmpint (g_async_queue_length (pc.queue), ==, 0);
  g_async_queue_unref (pc.queue);
  g_free (pc.probes);
  state_assert_all_released (&baseline);
}

/* ------------------------------------------------------------------------
 * release_handle re-entering the library, under threads
 *
 * A chain h[0] -> h[1] -> ... -> h[CHAIN-1]: h[i] holds a GObject and a
 * counted reference to h[i+1] (released from its release_handle) and a
 * GObject reference to h[i+2] (on which its release_handle takes and gives
 * back a reference), and its release_handle creates a new handle.  Every
 * worker holds a GObject and a counted reference on every h[i] and gives
 * them back in its own random order, sometimes with a borrow first.  The
 * main thread drops its GObject references before the round, so the last
 * ones (and their disposes) go in the workers or nested in a release_handle.
 * ------------------------------------------------------------------------ */

#define CHAIN 8

typedef struct
{
  guint32 seed;
  gpointer dogs[CHAIN];
  StressHandle *chain[CHAIN];
  Probe probes[CHAIN];
  RcNativeHandle *spawned[CHAIN];
  Probe spawned_probes[CHAIN];
  guint orders[N_THREADS][CHAIN];
  guint borrow_mask[N_THREADS];
  int base_live;
} ReentrantRace;

static void
reentrant_setup (Race  *race,
                 guint  round)
{
  ReentrantRace *state = race->data;
  GRand *rand = g_rand_new_with_seed (state->seed + round);
  guint i, w;

  for (i = 0; i < CHAIN; i++)
    {
      state->dogs[i] = rc_tn_dog_new ("chained");
      state->chain[i] = stress_handle_new (state->dogs[i], &state->probes[i]);
      state->spawned[i] = NULL;
      state->chain[i]->spawn_into = &state->spawned[i];
      state->chain[i]->spawn_probe = &state->spawned_probes[i];
      state->chain[i]->third_by_add_ref = g_rand_boolean (rand);
    }
  for (i = 0; i < CHAIN; i++)
    {
      if (i + 1 < CHAIN)
        {
          state->chain[i]->next = RC_NATIVE_HANDLE (g_object_ref (state->chain[i + 1]));
          rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (state->chain[i + 1]));
        }
      if (i + 2 < CHAIN)
        state->chain[i]->third = RC_NATIVE_HANDLE (g_object_ref (state->chain[i + 2]));
    }
  for (w = 0; w < race->n_workers; w++)
    {
      shuffle (rand, state->orders[w], CHAIN);
      state->borrow_mask[w] = (guint) g_rand_int_range (rand, 0, 1 << CHAIN);
      for (i = 0; i < CHAIN; i++)
        {
          g_object_ref (state->chain[i]);
          rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (state->chain[i]));
        }
    }
  /* our GObject references go; the wrappers' counted ones go with the
   * last GObject reference, wherever that is */
  for (i = 0; i < CHAIN; i++)
    g_object_unref (state->chain[i]);
  g_rand_free (rand);
}

static void
reentrant_worker (Race  *race,
                  guint  worker,
                  guint  round)
{
  ReentrantRace *state = race->data;
  guint k;

  for (k = 0; k < CHAIN; k++)
    {
      guint i = state->orders[worker][k];
      RcNativeHandle *handle = RC_NATIVE_HANDLE (state->chain[i]);

      if (state->borrow_mask[worker] & (1u << i))
        {
          GError *error = NULL;
          gpointer ptr = rc_native_handle_acquire (handle, &error);

          /* we still hold a counted reference: it cannot be released */
          g_assert_no_error (error);
          g_assert_true (ptr == state->dogs[i]);
          g_assert_cmpint (rc_tn_is_alive (ptr), ==, 1);
          rc_native_handle_release (handle);
        }
      rc_native_handle_release (handle);
      g_object_unref (handle);
    }
}

static void
reentrant_check (Race  *race,
                 guint  round)
{
  ReentrantRace *state = race->data;
  guint i;

  for (i = 0; i < CHAIN; i++)
    {
      RcNativeHandle *spawned = g_atomic_pointer_get (&state->spawned[i]);

      /* (not rc_tn_is_alive (dogs[i]): the spawned dog may have its address) */
      probe_assert_done (&state->probes[i]);

      /* the handle created inside release_handle is whole, and ours */
      g_assert_nonnull (spawned);
      g_assert_false (rc_native_handle_is_disposed (spawned));
      g_assert_cmpint (rc_reference_counter_get_reference_count (RC_REFERENCE_COUNTER (spawned)), ==, 1);
      g_assert_cmpint (g_atomic_int_get (&state->spawned_probes[i].release_calls), ==, 0);
      g_object_unref (spawned);
      probe_assert_done (&state->spawned_probes[i]);
      g_assert_cmpint (g_atomic_int_get (&state->spawned_probes[i].notify_calls), ==, 1);
    }
  /* every dog of the round is gone */
  g_assert_cmpint (rc_tn_live_count (), ==, state->base_live);
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);
}

static void
test_reentrant_release (void)
{
  State baseline;
  ReentrantRace *state = g_new0 (ReentrantRace, 1);
  guint rounds = scaled (10000);

  state->seed = base_seed ();
  g_test_message ("seed %" G_GUINT32_FORMAT "; %u rounds of %d threads over a chain of %d re-entrant handles%s",
                  state->seed, rounds, N_THREADS, CHAIN, quick_mode () ? " (RC_TEST_QUICK)" : "");
  state_begin (&baseline);
  state->base_live = baseline.live;
  race_run (N_THREADS, rounds, reentrant_setup, reentrant_worker, reentrant_check, state);
  state_assert_all_released (&baseline);
  g_free (state);
}

/* ------------------------------------------------------------------------
 * The first RC_ERROR of the process, raised by several threads at once
 *
 * Regression test, found with ThreadSanitizer: rc_error_quark () is
 * G_DEFINE_QUARK, a plain static GQuark written on first use and read
 * without synchronisation, so two threads raising the first RC_ERROR of the
 * process race on it (a data race in src/rc-error.c; under TSan this test
 * reports it deterministically).  It must be the first test to raise an
 * RC_ERROR in this process: keep it first, and keep main () from calling
 * rc_error_quark ().
 * ------------------------------------------------------------------------ */

static void
first_error_setup (Race  *race,
                   guint  round)
{
}

static void
first_error_worker (Race  *race,
                    guint  worker,
                    guint  round)
{
  RcNativeHandle *unset = race->data;
  GError *error = NULL;

  /* never set: disposed, so acquire raises RC_ERROR_DISPOSED */
  g_assert_null (rc_native_handle_acquire (unset, &error));
  g_assert_error (error, RC_ERROR, RC_ERROR_DISPOSED);
  g_error_free (error);
}

static void
first_error_check (Race  *race,
                   guint  round)
{
}

static void
test_first_error_from_threads (void)
{
  RcNativeHandle *unset = RC_NATIVE_HANDLE (rc_owning_native_handle_new (NULL, NULL));

  race_run (N_THREADS, 1, first_error_setup, first_error_worker, first_error_check, unset);
  g_object_unref (unset);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  /* Register the types before any thread starts.  GLib publishes a
   * registered type (and the private offsets written with it) through
   * g_once_init_leave () inside libgobject, which ThreadSanitizer does not
   * see, so a first registration in a worker thread would be reported as a
   * race in the G_DEFINE_TYPE code.  What these tests race is the counting,
   * not GLib's type registration. */
  g_type_ensure (RC_TYPE_DELETABLE_NATIVE_HANDLE);
  g_type_ensure (RC_TYPE_OWNING_NATIVE_HANDLE);
  g_type_ensure (STRESS_TYPE_HANDLE);

  g_test_add_func ("/stress/first-error-from-threads", test_first_error_from_threads);
  g_test_add_func ("/stress/release-vs-last-unref", test_release_vs_last_unref);
  g_test_add_func ("/stress/over-release", test_over_release);
  g_test_add_func ("/stress/producer-consumer", test_producer_consumer);
  g_test_add_func ("/stress/reentrant-release", test_reentrant_release);

  return g_test_run ();
}
