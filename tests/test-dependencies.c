/* test-dependencies.c: an owner keeps what it uses
 *
 * SPDX-License-Identifier: MIT
 *
 * rc_native_handle_add_dependency (self, dependency): self holds one counted
 * reference and a GObject reference on the dependency; right after self's
 * own successful release_handle its dependencies are released once each, in
 * reverse order of addition, then dropped. So a dependency's native release
 * never precedes that of a handle depending on it, in any drop order, from
 * any thread.
 *
 * The ground truth is the test native library: an owner handle wraps a
 * *borrowing* owner (rc_tn_owner_new_borrowing: it takes no native reference
 * on its dog, and counts misuse if the dog is gone when it is freed), so a
 * dog released before its owner shows in rc_tn_misuse_count (); the freed
 * callback logs the order of the native frees; DepHandle, a C subclass,
 * logs its release_handle calls (count, order, a global sequence number).
 *
 * RC_TEST_QUICK=1 (set by the valgrind setup) shortens the long chain and
 * the thread races.
 */

#include <pthread.h>
#include <string.h>

#include <refcount/refcount.h>

#include "rc-test-native.h"

/* A tight start at the barrier, for the closest races. */
#define RACE_GO_SPINS 2000
#include "test-race.h"
#include "test-common.h"

#define LOG_DOMAIN "Refcount"
#define OWNER_TYPE_ID "OWNER_PTR"
#define DOG_TYPE_ID "DOG_PTR"
#define FAILED_RELEASE_MESSAGE "*Failed to release native handle*"

/* ------------------------------------------------------------------------
 * DepHandle: releases its native object with rc_tn_release and records it
 * ------------------------------------------------------------------------ */

typedef struct
{
  int id;
  gpointer expected;    /* the pointer release_handle must see */
  int release_calls;    /* release_handle calls, failed ones included */
  int release_ok;       /* successful ones */
  int fail_next;        /* failures to come */
  int seq_begin;        /* global sequence number when the release began */
  int seq_end;          /* and when the native object was given back */
  int wrong_pointer;
  int finalized;
} Rec;

/* A global clock: each successful release_handle takes two ticks. */
static int global_seq;

/* The order of successful release_handle calls, by Rec id (single-threaded
 * tests only). */
typedef struct
{
  int *ids;
  int cap;
  int len;
} OrderLog;

static OrderLog *order_log;

static int
tick (void)
{
  return g_atomic_int_add (&global_seq, 1) + 1;
}

#define DEP_TYPE_HANDLE (dep_handle_get_type ())
G_DECLARE_FINAL_TYPE (DepHandle, dep_handle, DEP, HANDLE, RcNativeHandle)

struct _DepHandle
{
  RcNativeHandle parent_instance;

  Rec *rec;
};

G_DEFINE_FINAL_TYPE (DepHandle, dep_handle, RC_TYPE_NATIVE_HANDLE)

static gboolean
dep_handle_release_handle (RcNativeHandle *handle)
{
  Rec *rec = DEP_HANDLE (handle)->rec;
  gpointer ptr = rc_native_handle_get_handle (handle);

  g_atomic_int_inc (&rec->release_calls);
  if (ptr != rec->expected)
    g_atomic_int_inc (&rec->wrong_pointer);
  if (rec->fail_next > 0)
    {
      rec->fail_next--;
      return FALSE;
    }

  g_atomic_int_set (&rec->seq_begin, tick ());
  rc_tn_release (ptr);
  g_atomic_int_set (&rec->seq_end, tick ());
  g_atomic_int_inc (&rec->release_ok);
  if (order_log != NULL && order_log->len < order_log->cap)
    order_log->ids[order_log->len++] = rec->id;
  return TRUE;
}

static void
dep_handle_finalize (GObject *object)
{
  Rec *rec = DEP_HANDLE (object)->rec;

  if (rec != NULL)
    g_atomic_int_inc (&rec->finalized);
  G_OBJECT_CLASS (dep_handle_parent_class)->finalize (object);
}

static void
dep_handle_class_init (DepHandleClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = dep_handle_finalize;
  RC_NATIVE_HANDLE_CLASS (klass)->release_handle = dep_handle_release_handle;
}

static void
dep_handle_init (DepHandle *self)
{
}

static void
rec_init (Rec      *rec,
          int       id,
          gpointer  expected)
{
  memset (rec, 0, sizeof *rec);
  rec->id = id;
  rec->expected = expected;
}

/* A DepHandle with count 1 over @ptr (may be NULL: unset). */
static RcNativeHandle *
dep_handle_new (Rec        *rec,
                gpointer    ptr,
                const char *type_id)
{
  DepHandle *h = g_object_new (DEP_TYPE_HANDLE, "handle", ptr, "type-id", type_id, NULL);

  h->rec = rec;
  return RC_NATIVE_HANDLE (h);
}

/* A release function for RcDeletableNativeHandle that records in a Rec. */
static void
rec_release_func (gpointer ptr,
                  gpointer user_data)
{
  Rec *rec = user_data;

  g_atomic_int_inc (&rec->release_calls);
  if (ptr != rec->expected)
    g_atomic_int_inc (&rec->wrong_pointer);
  g_atomic_int_set (&rec->seq_begin, tick ());
  rc_tn_release (ptr);
  g_atomic_int_set (&rec->seq_end, tick ());
  g_atomic_int_inc (&rec->release_ok);
  if (order_log != NULL && order_log->len < order_log->cap)
    order_log->ids[order_log->len++] = rec->id;
}

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------ */

static int
gobject_refs (gpointer object)
{
  return (int) g_atomic_int_get ((int *) &G_OBJECT (object)->ref_count);
}

static void
clear_slot (gpointer data)
{
  gpointer *slot = data;

  *slot = NULL;
}

/* *@slot becomes NULL when @object is finalized (object data, cleared at
 * finalize; weak pointers would be cleared by g_object_run_dispose). */
static void
watch_finalize (gpointer  object,
                gpointer *slot)
{
  *slot = object;
  g_object_set_data_full (G_OBJECT (object), "test-finalize-watch", slot, clear_slot);
}

static void
add_dep_ok (RcNativeHandle *self,
            RcNativeHandle *dependency)
{
  GError *error = NULL;

  g_assert_true (rc_native_handle_add_dependency (self, dependency, &error));
  g_assert_no_error (error);
}

/* Refused with @code; the message names both type ids; nothing changed. */
static void
add_dep_refused (RcNativeHandle *self,
                 RcNativeHandle *dependency,
                 RcError         code)
{
  GError *error = NULL;
  int self_count = count_of (self);
  int dep_count = count_of (dependency);
  int self_refs = gobject_refs (self);
  int dep_refs = gobject_refs (dependency);
  GPtrArray *self_deps = rc_native_handle_get_dependencies (self);
  GPtrArray *dep_deps = rc_native_handle_get_dependencies (dependency);
  GPtrArray *after;
  const char *self_id = rc_native_handle_get_type_id (self);
  const char *dep_id = rc_native_handle_get_type_id (dependency);
  guint i;

  g_assert_false (rc_native_handle_add_dependency (self, dependency, &error));
  g_assert_error (error, RC_ERROR, (int) code);
  if (self_id != NULL)
    g_assert_nonnull (strstr (error->message, self_id));
  if (dep_id != NULL)
    g_assert_nonnull (strstr (error->message, dep_id));
  g_clear_error (&error);

  g_assert_cmpint (count_of (self), ==, self_count);
  g_assert_cmpint (count_of (dependency), ==, dep_count);
  g_assert_cmpint (gobject_refs (self), ==, self_refs);
  g_assert_cmpint (gobject_refs (dependency), ==, dep_refs);

  after = rc_native_handle_get_dependencies (self);
  g_assert_cmpuint (after->len, ==, self_deps->len);
  for (i = 0; i < after->len; i++)
    g_assert_true (after->pdata[i] == self_deps->pdata[i]);
  g_ptr_array_unref (after);
  after = rc_native_handle_get_dependencies (dependency);
  g_assert_cmpuint (after->len, ==, dep_deps->len);
  for (i = 0; i < after->len; i++)
    g_assert_true (after->pdata[i] == dep_deps->pdata[i]);
  g_ptr_array_unref (after);

  g_ptr_array_unref (self_deps);
  g_ptr_array_unref (dep_deps);
}

/* get_dependencies (self) is exactly the @n handles given, in order. */
static void
assert_deps (RcNativeHandle *self,
             guint           n,
             ...)
{
  GPtrArray *deps = rc_native_handle_get_dependencies (self);
  va_list args;
  guint i;

  g_assert_nonnull (deps);
  g_assert_cmpuint (deps->len, ==, n);
  va_start (args, n);
  for (i = 0; i < n; i++)
    {
      RcNativeHandle *expected = va_arg (args, RcNativeHandle *);

      g_assert_true (g_ptr_array_index (deps, i) == expected);
    }
  va_end (args);
  g_ptr_array_unref (deps);
}

static void
order_log_begin (OrderLog *log,
                 int       cap)
{
  log->ids = g_new0 (int, cap);
  log->cap = cap;
  log->len = 0;
  order_log = log;
}

static void
order_log_end (OrderLog *log)
{
  order_log = NULL;
  g_free (log->ids);
  log->ids = NULL;
}

static void
assert_order (OrderLog *log,
              int       n,
              ...)
{
  va_list args;
  int i;

  g_assert_cmpint (log->len, ==, n);
  va_start (args, n);
  for (i = 0; i < n; i++)
    g_assert_cmpint (log->ids[i], ==, va_arg (args, int));
  va_end (args);
}

/* ------------------------------------------------------------------------
 * Basics
 * ------------------------------------------------------------------------ */

/* The dependency is counted, held as an object, listed; released after the
 * owner, then dropped. */
static void
test_basic (void)
{
  State state;
  FreedLog log = { { NULL, }, };
  Rec ro, rd;
  gpointer dog, owner;
  RcNativeHandle *o, *d;
  gpointer d_alive;

  state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  owner = rc_tn_owner_new_borrowing (dog);
  log.watched[0] = owner;
  log.watched[1] = dog;
  rc_tn_set_freed_callback (freed_cb, &log);

  rec_init (&ro, 1, owner);
  rec_init (&rd, 2, dog);
  o = dep_handle_new (&ro, owner, OWNER_TYPE_ID);
  d = dep_handle_new (&rd, dog, DOG_TYPE_ID);
  d_alive = d;
  watch_finalize (d, &d_alive);
  assert_deps (o, 0);

  add_dep_ok (o, d);
  g_assert_cmpint (count_of (d), ==, 2);
  g_assert_cmpint (gobject_refs (d), ==, 2);
  g_assert_cmpint (count_of (o), ==, 1);
  g_assert_cmpint (gobject_refs (o), ==, 1);
  assert_deps (o, 1, d);
  assert_deps (d, 0);

  /* the caller lets the dog handle object go: the owner keeps it, and with
   * it the wrapper's own count (the object is not disposed) */
  g_object_unref (d);
  g_assert_nonnull (d_alive);
  g_assert_cmpint (gobject_refs (d), ==, 1);
  g_assert_cmpint (count_of (d), ==, 2);
  g_assert_cmpint (rd.release_calls, ==, 0);
  g_assert_true (rc_tn_is_alive (dog));
  g_assert_false (rc_native_handle_is_disposed (d));

  /* the owner goes: owner first, then the dog handle gets its count back and
   * loses its object, whose dispose gives back the wrapper's count: the dog */
  rc_native_handle_release (o);
  g_assert_cmpint (ro.release_ok, ==, 1);
  g_assert_cmpint (rd.release_ok, ==, 1);
  g_assert_cmpint (rd.seq_begin, >, ro.seq_end);
  g_assert_null (d_alive);
  g_assert_cmpint (rd.finalized, ==, 1);
  g_assert_cmpint (log.n_order, ==, 2);
  g_assert_cmpint (log.order[0], ==, 0);
  g_assert_cmpint (log.order[1], ==, 1);
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);
  assert_deps (o, 0);
  g_assert_true (rc_native_handle_is_disposed (o));

  g_object_unref (o);
  g_assert_cmpint (ro.finalized, ==, 1);
  g_assert_cmpint (ro.release_calls, ==, 1);
  g_assert_cmpint (rd.release_calls, ==, 1);
  g_assert_cmpint (ro.wrong_pointer + rd.wrong_pointer, ==, 0);
  rc_tn_set_freed_callback (NULL, NULL);
  state_assert_all_released (&state);
}

/* The borrowing owner is a sharp witness: without the dependency, releasing
 * the dog first shows as misuse (so the checks above could fail). */
static void
test_witness (void)
{
  gpointer dog = rc_tn_dog_new ("Rex");
  gpointer owner = rc_tn_owner_new_borrowing (dog);
  RcNativeHandle *o = RC_NATIVE_HANDLE (rc_deletable_native_handle_new_native (owner, (gpointer) rc_tn_release,
                                                                               OWNER_TYPE_ID));
  RcNativeHandle *d = RC_NATIVE_HANDLE (rc_deletable_native_handle_new_native (dog, (gpointer) rc_tn_release,
                                                                               DOG_TYPE_ID));

  rc_tn_reset_misuse_count ();
  g_object_unref (d);
  g_assert_false (rc_tn_is_alive (dog));
  g_object_unref (o);
  g_assert_cmpint (rc_tn_misuse_count (), ==, 1);
  rc_tn_reset_misuse_count ();
}

/* ------------------------------------------------------------------------
 * Every drop order of an owner and its dog
 * ------------------------------------------------------------------------ */

typedef enum
{
  ACT_UNREF,            /* g_object_unref: the test's last GObject reference */
  ACT_RELEASE,          /* rc_native_handle_release */
  ACT_DISPOSE,          /* rc_native_handle_dispose */
  ACT_RUN_DISPOSE,      /* g_object_run_dispose: the wrapper's reference */
  ACT_DROP_WRAPPER,     /* rc_native_handle_drop_wrapper_reference */
} Act;

static const char * const act_names[] = {
  "unref", "release", "dispose", "run_dispose", "drop_wrapper_reference",
};

/* How the test lets go of one handle: a first action, then the unref. */
#define N_MODES 5
static const Act mode_first[N_MODES] = {
  ACT_UNREF, ACT_RELEASE, ACT_DISPOSE, ACT_RUN_DISPOSE, ACT_DROP_WRAPPER,
};

typedef enum
{
  FLAVOR_DEP_HANDLE,    /* both DepHandle */
  FLAVOR_DELETABLE,     /* both RcDeletableNativeHandle: new_native and new */
  FLAVOR_MIXED,         /* a DepHandle owner, an RcDeletableNativeHandle dog */
  N_FLAVORS
} Flavor;

static const char * const flavor_names[N_FLAVORS] = { "DepHandle", "deletable", "mixed" };

static void
run_act (RcNativeHandle *h,
         Act             act)
{
  switch (act)
    {
    case ACT_UNREF:
      g_object_unref (h);
      break;
    case ACT_RELEASE:
      rc_native_handle_release (h);
      break;
    case ACT_DISPOSE:
      rc_native_handle_dispose (h);
      break;
    case ACT_RUN_DISPOSE:
      g_object_run_dispose (G_OBJECT (h));
      break;
    case ACT_DROP_WRAPPER:
      g_assert_true (rc_native_handle_drop_wrapper_reference (h));
      break;
    default:
      g_assert_not_reached ();
    }
}

/* The model of one owner O and its dog D: counts, wrapper references,
 * GObject holders. */
typedef struct
{
  int count;
  gboolean released;
  gboolean wrapper_dropped;
  gboolean test_holds;          /* the test's GObject reference */
  gboolean finalized;
} MH;

typedef struct
{
  MH h[2];                      /* 0: the owner, 1: the dog */
  gboolean o_holds_d;           /* the dependency: a count and an object */
} DropModel;

static void m_dispose_if_unheld (DropModel *m, int w);

static void
m_decrement (DropModel *m,
             int        w)
{
  MH *h = &m->h[w];

  if (h->released)
    return;
  g_assert_cmpint (h->count, >, 0);
  if (--h->count > 0)
    return;
  h->released = TRUE;
  if (w == 0 && m->o_holds_d)
    {
      /* right after the owner's release: the dog's count, then the object */
      m->o_holds_d = FALSE;
      m_decrement (m, 1);
      m_dispose_if_unheld (m, 1);
    }
}

static gboolean
m_drop_wrapper (DropModel *m,
                int        w)
{
  if (m->h[w].wrapper_dropped)
    return FALSE;
  m->h[w].wrapper_dropped = TRUE;
  m_decrement (m, w);
  return TRUE;
}

static void
m_dispose_if_unheld (DropModel *m,
                     int        w)
{
  MH *h = &m->h[w];

  if (h->finalized || h->test_holds || (w == 1 && m->o_holds_d))
    return;
  m_drop_wrapper (m, w);
  h->finalized = TRUE;
  /* the owner has one reference: its dispose always releases it */
  g_assert_true (w == 1 || !m->o_holds_d);
}

/* One drop order: @o_mode and @d_mode say how each handle goes, @pattern
 * (bit i set: step i is the dog's) interleaves their actions. */
static void
run_drop_order (Flavor flavor,
                int    o_mode,
                int    d_mode,
                guint  pattern,
                int    n_steps)
{
  State state;
  FreedLog log = { { NULL, }, };
  Rec ro, rd;
  gpointer dog, owner;
  RcNativeHandle *h[2];
  gpointer alive[2];
  int done[2] = { 0, 0 };
  int n_acts[2] = { o_mode == 0 ? 1 : 2, d_mode == 0 ? 1 : 2 };
  int mode[2] = { o_mode, d_mode };
  DropModel m;
  int step, w;

  state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  owner = rc_tn_owner_new_borrowing (dog);
  log.watched[0] = owner;
  log.watched[1] = dog;
  rc_tn_set_freed_callback (freed_cb, &log);
  rec_init (&ro, 1, owner);
  rec_init (&rd, 2, dog);

  if (flavor == FLAVOR_DELETABLE)
    h[0] = RC_NATIVE_HANDLE (rc_deletable_native_handle_new_native (owner, (gpointer) rc_tn_release,
                                                                    OWNER_TYPE_ID));
  else
    h[0] = dep_handle_new (&ro, owner, OWNER_TYPE_ID);
  if (flavor == FLAVOR_DEP_HANDLE)
    h[1] = dep_handle_new (&rd, dog, DOG_TYPE_ID);
  else
    h[1] = RC_NATIVE_HANDLE (rc_deletable_native_handle_new (dog, rec_release_func, &rd, NULL, DOG_TYPE_ID));
  for (w = 0; w < 2; w++)
    {
      alive[w] = h[w];
      watch_finalize (h[w], &alive[w]);
    }
  add_dep_ok (h[0], h[1]);

  memset (&m, 0, sizeof m);
  m.h[0].count = 1;
  m.h[1].count = 2;
  m.h[0].test_holds = m.h[1].test_holds = TRUE;
  m.o_holds_d = TRUE;

  for (step = 0; step < n_steps; step++)
    {
      Act act;

      w = (pattern >> step) & 1;
      g_assert_cmpint (done[w], <, n_acts[w]);
      act = done[w] == 0 ? mode_first[mode[w]] : ACT_UNREF;
      done[w]++;

      /* the model first */
      switch (act)
        {
        case ACT_UNREF:
          m.h[w].test_holds = FALSE;
          m_dispose_if_unheld (&m, w);
          break;
        case ACT_RELEASE:
        case ACT_DISPOSE:
          m_decrement (&m, w);
          break;
        case ACT_RUN_DISPOSE:
        case ACT_DROP_WRAPPER:
          g_assert_true (m_drop_wrapper (&m, w));
          break;
        default:
          g_assert_not_reached ();
        }
      run_act (h[w], act);

      g_assert_cmpint (rc_tn_misuse_count (), ==, 0);
      g_assert_cmpint (rc_tn_is_alive (owner), ==, !m.h[0].released);
      g_assert_cmpint (rc_tn_is_alive (dog), ==, !m.h[1].released);
      g_assert_cmpint (rd.release_ok, ==, m.h[1].released);
      g_assert_cmpint (rd.release_calls, ==, m.h[1].released);
      if (flavor != FLAVOR_DELETABLE)
        {
          g_assert_cmpint (ro.release_calls, ==, m.h[0].released);
          if (m.h[1].released)
            g_assert_cmpint (rd.seq_begin, >, ro.seq_end);
        }
      for (w = 0; w < 2; w++)
        {
          g_assert_cmpint (alive[w] != NULL, ==, !m.h[w].finalized);
          if (alive[w] == NULL)
            continue;
          g_assert_cmpint (rc_native_handle_is_disposed (h[w]), ==, m.h[w].released);
          g_assert_cmpint (count_of (h[w]), ==, m.h[w].released ? 0 : m.h[w].count);
        }
      if (alive[0] != NULL)
        {
          if (m.o_holds_d)
            assert_deps (h[0], 1, h[1]);
          else
            assert_deps (h[0], 0);
        }
    }

  g_assert_null (alive[0]);
  g_assert_null (alive[1]);
  g_assert_cmpint (rd.release_ok, ==, 1);
  g_assert_cmpint (rd.wrong_pointer + ro.wrong_pointer, ==, 0);
  /* owner, then dog */
  g_assert_cmpint (log.n_order, ==, 2);
  g_assert_cmpint (log.order[0], ==, 0);
  g_assert_cmpint (log.order[1], ==, 1);
  g_assert_cmpint (log.freed[0], ==, 1);
  g_assert_cmpint (log.freed[1], ==, 1);
  rc_tn_set_freed_callback (NULL, NULL);
  state_assert_all_released (&state);
}

static void
test_drop_orders (gconstpointer data)
{
  Flavor flavor = GPOINTER_TO_INT (data);
  int o_mode, d_mode;
  int cases = 0;

  for (o_mode = 0; o_mode < N_MODES; o_mode++)
    for (d_mode = 0; d_mode < N_MODES; d_mode++)
      {
        int o_steps = o_mode == 0 ? 1 : 2;
        int d_steps = d_mode == 0 ? 1 : 2;
        int n = o_steps + d_steps;
        guint pattern;

        for (pattern = 0; pattern < (1u << n); pattern++)
          {
            if (__builtin_popcount (pattern) != d_steps)
              continue;
            if (g_test_verbose ())
              g_test_message ("%s: owner %s then unref, dog %s then unref, steps %x (1: the dog's)",
                              flavor_names[flavor], act_names[mode_first[o_mode]],
                              act_names[mode_first[d_mode]], pattern);
            run_drop_order (flavor, o_mode, d_mode, pattern, n);
            cases++;
          }
      }
  g_test_message ("%s: %d drop orders", flavor_names[flavor], cases);
  g_assert_cmpint (cases, ==, 2 + 4 * 3 + 4 * 3 + 16 * 6);
}

/* ------------------------------------------------------------------------
 * Several dependencies, duplicates, chains, diamonds
 * ------------------------------------------------------------------------ */

static void
test_reverse_order (void)
{
  State state;
  OrderLog log;
  Rec ro, rd[3];
  RcNativeHandle *o, *d[3];
  int i;

  state_begin (&state);
  order_log_begin (&log, 8);
  rec_init (&ro, 10, rc_tn_dog_new ("owner"));
  o = dep_handle_new (&ro, ro.expected, OWNER_TYPE_ID);
  for (i = 0; i < 3; i++)
    {
      rec_init (&rd[i], i, rc_tn_dog_new ("dep"));
      d[i] = dep_handle_new (&rd[i], rd[i].expected, DOG_TYPE_ID);
      add_dep_ok (o, d[i]);
    }
  assert_deps (o, 3, d[0], d[1], d[2]);
  /* the caller's counts and objects go: the owner's counts are the last */
  for (i = 0; i < 3; i++)
    {
      rc_native_handle_release (d[i]);
      g_object_unref (d[i]);
      g_assert_cmpint (rd[i].release_calls, ==, 0);
    }

  g_object_unref (o);
  assert_order (&log, 4, 10, 2, 1, 0);
  for (i = 0; i < 3; i++)
    {
      g_assert_cmpint (rd[i].release_calls, ==, 1);
      g_assert_cmpint (rd[i].finalized, ==, 1);
    }
  g_assert_cmpint (ro.finalized, ==, 1);
  order_log_end (&log);
  state_assert_all_released (&state);
}

/* The same dependency twice counts twice, is listed twice. */
static void
test_duplicate (gconstpointer data)
{
  gboolean dog_first = GPOINTER_TO_INT (data);
  State state;
  OrderLog log;
  Rec ro, rd, re;
  RcNativeHandle *o, *d, *e;

  state_begin (&state);
  order_log_begin (&log, 8);
  rec_init (&ro, 1, rc_tn_dog_new ("owner"));
  rec_init (&rd, 2, rc_tn_dog_new ("dep"));
  rec_init (&re, 3, rc_tn_dog_new ("other"));
  o = dep_handle_new (&ro, ro.expected, OWNER_TYPE_ID);
  d = dep_handle_new (&rd, rd.expected, DOG_TYPE_ID);
  e = dep_handle_new (&re, re.expected, DOG_TYPE_ID);

  add_dep_ok (o, d);
  add_dep_ok (o, e);
  add_dep_ok (o, d);
  g_assert_cmpint (count_of (d), ==, 3);
  g_assert_cmpint (count_of (e), ==, 2);
  assert_deps (o, 3, d, e, d);

  if (dog_first)
    {
      /* the caller's references go first: nothing released yet */
      rc_native_handle_release (d);
      rc_native_handle_release (e);
      g_object_unref (d);
      g_object_unref (e);
      g_assert_cmpint (count_of (d), ==, 2);
      g_assert_cmpint (count_of (e), ==, 1);
      g_assert_cmpint (rd.release_calls + re.release_calls, ==, 0);
      rc_native_handle_release (o);
      /* reverse order: d (its second count), e, d (its last) */
      assert_order (&log, 3, 1, 3, 2);
      g_assert_cmpint (rd.release_calls, ==, 1);
      g_assert_cmpint (rd.finalized, ==, 1);
      g_assert_cmpint (re.finalized, ==, 1);
    }
  else
    {
      rc_native_handle_release (o);
      assert_order (&log, 1, 1);
      /* the owner gave back both counts; the caller's is left */
      g_assert_cmpint (count_of (d), ==, 1);
      g_assert_cmpint (count_of (e), ==, 1);
      g_assert_cmpint (gobject_refs (d), ==, 1);
      g_assert_cmpint (gobject_refs (e), ==, 1);
      g_assert_true (rc_tn_is_alive (rd.expected));
      rc_native_handle_release (d);
      rc_native_handle_release (e);
      assert_order (&log, 3, 1, 2, 3);
      g_assert_cmpint (rd.release_calls, ==, 1);
      g_object_unref (d);
      g_object_unref (e);
    }
  assert_deps (o, 0);
  g_object_unref (o);
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);
  order_log_end (&log);
  state_assert_all_released (&state);
}

/* h[i] depends on h[i-1]; the test keeps only the top. Runs in a thread
 * with a small stack (see test_long_chain). */
static gpointer
long_chain_thread (gpointer data)
{
  State state;
  OrderLog log;
  int n = quick_mode () ? 10000 : 1000000;
  Rec *recs = g_new0 (Rec, n);
  RcNativeHandle *top;
  RcNativeHandle *prev = NULL;
  int i;
  double seconds;

  g_test_message ("a chain of %d handles%s", n, quick_mode () ? " (RC_TEST_QUICK)" : "");
  state_begin (&state);
  order_log_begin (&log, n);

  g_test_timer_start ();
  for (i = 0; i < n; i++)
    {
      RcNativeHandle *h;

      rec_init (&recs[i], i, rc_tn_dog_new (NULL));
      h = dep_handle_new (&recs[i], recs[i].expected, DOG_TYPE_ID);
      if (prev != NULL)
        {
          add_dep_ok (h, prev);
          g_object_unref (prev);
        }
      prev = h;
    }
  top = prev;
  seconds = g_test_timer_elapsed ();
  g_test_message ("built in %.2f s", seconds);
  g_assert_cmpuint (rc_native_handle_get_live_count (), ==, state.handles + (guint) n);
  g_assert_cmpint (rc_tn_dog_live_count (), ==, state.dogs + n);
  g_assert_cmpint (count_of (top), ==, 1);
  g_assert_cmpint (log.len, ==, 0);

  /* one unref releases and frees the whole chain, top down, without
   * recursing once per link */
  g_test_timer_start ();
  g_object_unref (top);
  seconds = g_test_timer_elapsed ();
  g_test_message ("released in %.2f s", seconds);

  g_assert_cmpint (log.len, ==, n);
  for (i = 0; i < n; i++)
    {
      if (log.ids[i] != n - 1 - i)
        g_error ("release %d was of link %d, expected %d", i, log.ids[i], n - 1 - i);
      if (recs[i].release_calls != 1 || recs[i].finalized != 1 || recs[i].wrong_pointer != 0)
        g_error ("link %d: %d release_handle calls, finalized %d times, %d wrong pointers", i,
                 recs[i].release_calls, recs[i].finalized, recs[i].wrong_pointer);
    }
  order_log_end (&log);
  g_free (recs);
  state_assert_all_released (&state);
  return NULL;
}

/* A release that recursed once per link would need far more than this
 * stack for the chain, even for the short one of RC_TEST_QUICK=1 (10,000
 * links); a queued one needs a few frames. */
#define LONG_CHAIN_STACK (1024 * 1024)

static void
test_long_chain (void)
{
  pthread_attr_t attr;
  pthread_t thread;

  g_assert_cmpint (pthread_attr_init (&attr), ==, 0);
  g_assert_cmpint (pthread_attr_setstacksize (&attr, LONG_CHAIN_STACK), ==, 0);
  g_assert_cmpint (pthread_create (&thread, &attr, long_chain_thread, NULL), ==, 0);
  g_assert_cmpint (pthread_join (thread, NULL), ==, 0);
  pthread_attr_destroy (&attr);
}

/* A short chain the test holds entirely, released in both directions. */
static void
test_chain_orders (gconstpointer data)
{
  gboolean top_down = GPOINTER_TO_INT (data);
  State state;
  OrderLog log;
  enum { N = 50 };
  Rec recs[N];
  RcNativeHandle *h[N];
  int i, k;

  state_begin (&state);
  order_log_begin (&log, N);
  for (i = 0; i < N; i++)
    {
      rec_init (&recs[i], i, rc_tn_dog_new (NULL));
      h[i] = dep_handle_new (&recs[i], recs[i].expected, DOG_TYPE_ID);
      if (i > 0)
        add_dep_ok (h[i], h[i - 1]);
    }
  for (i = 0; i < N; i++)
    g_assert_cmpint (count_of (h[i]), ==, i == N - 1 ? 1 : 2);

  if (top_down)
    {
      /* each release frees exactly one link: the top first */
      for (k = N - 1; k >= 0; k--)
        {
          rc_native_handle_release (h[k]);
          g_assert_cmpint (log.len, ==, N - k);
          g_assert_cmpint (log.ids[N - 1 - k], ==, k);
          if (k > 0)
            {
              g_assert_cmpint (count_of (h[k - 1]), ==, 1);
              g_assert_true (rc_tn_is_alive (recs[k - 1].expected));
            }
        }
    }
  else
    {
      /* the dependencies' own references first: nothing is released until
       * the top goes, then all of it, top down */
      for (k = 0; k < N - 1; k++)
        {
          rc_native_handle_release (h[k]);
          g_assert_cmpint (log.len, ==, 0);
          g_assert_cmpint (count_of (h[k]), ==, 1);
        }
      rc_native_handle_release (h[N - 1]);
      g_assert_cmpint (log.len, ==, N);
      for (i = 0; i < N; i++)
        g_assert_cmpint (log.ids[i], ==, N - 1 - i);
    }
  for (i = 0; i < N; i++)
    {
      g_assert_true (rc_native_handle_is_disposed (h[i]));
      assert_deps (h[i], 0);
      g_object_unref (h[i]);
      g_assert_cmpint (recs[i].release_calls, ==, 1);
      g_assert_cmpint (recs[i].finalized, ==, 1);
    }
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);
  order_log_end (&log);
  state_assert_all_released (&state);
}

/* A -> B, A -> C, B -> D, C -> D (and A -> D): D released once, after B
 * and C. */
typedef enum
{
  DIAMOND_UNREF,        /* the test drops its objects only */
  DIAMOND_RELEASE,      /* the test releases its counts and drops its objects */
  DIAMOND_KEEP_D,       /* the same, but keeps D */
} DiamondMode;

static void
test_diamond (gconstpointer data)
{
  DiamondMode mode = GPOINTER_TO_INT (data);
  State state;
  OrderLog log;
  Rec r[4];
  RcNativeHandle *h[4];
  gpointer d_alive;
  int i;

  state_begin (&state);
  order_log_begin (&log, 8);
  for (i = 0; i < 4; i++)
    {
      rec_init (&r[i], i, rc_tn_dog_new (NULL));
      h[i] = dep_handle_new (&r[i], r[i].expected, i == 0 ? OWNER_TYPE_ID : DOG_TYPE_ID);
    }
  add_dep_ok (h[0], h[1]);
  add_dep_ok (h[0], h[2]);
  add_dep_ok (h[1], h[3]);
  add_dep_ok (h[2], h[3]);
  g_assert_cmpint (count_of (h[3]), ==, 3);
  assert_deps (h[0], 2, h[1], h[2]);
  assert_deps (h[1], 1, h[3]);
  assert_deps (h[2], 1, h[3]);
  /* closing it into a cycle is refused, whichever way round */
  add_dep_refused (h[3], h[0], RC_ERROR_CYCLE);
  add_dep_refused (h[3], h[1], RC_ERROR_CYCLE);
  add_dep_refused (h[2], h[0], RC_ERROR_CYCLE);
  /* a shortcut along the edges is no cycle */
  add_dep_ok (h[0], h[3]);
  g_assert_cmpint (count_of (h[3]), ==, 4);
  assert_deps (h[0], 3, h[1], h[2], h[3]);

  d_alive = h[3];
  watch_finalize (h[3], &d_alive);
  for (i = 1; i < 4; i++)
    {
      if (i == 3 && mode == DIAMOND_KEEP_D)
        continue;
      if (mode != DIAMOND_UNREF)
        rc_native_handle_release (h[i]);
      g_object_unref (h[i]);
    }
  g_assert_cmpint (log.len, ==, 0);

  g_object_unref (h[0]);
  switch (mode)
    {
    case DIAMOND_UNREF:
      /* the last counts of B, C and D are their wrappers', given back as
       * their objects go: A first, D last */
      g_assert_cmpint (log.len, ==, 4);
      g_assert_cmpint (log.ids[0], ==, 0);
      g_assert_cmpint (log.ids[3], ==, 3);
      break;
    case DIAMOND_RELEASE:
      /* A, then its dependencies in reverse order: D's count, C (and D's
       * count), B (and D's last) */
      assert_order (&log, 4, 0, 2, 1, 3);
      break;
    case DIAMOND_KEEP_D:
      assert_order (&log, 3, 0, 2, 1);
      g_assert_cmpint (count_of (h[3]), ==, 1);
      g_assert_true (rc_tn_is_alive (r[3].expected));
      g_assert_cmpint (gobject_refs (h[3]), ==, 1);
      assert_deps (h[3], 0);
      rc_native_handle_release (h[3]);
      assert_order (&log, 4, 0, 2, 1, 3);
      g_object_unref (h[3]);
      break;
    default:
      g_assert_not_reached ();
    }
  g_assert_null (d_alive);
  g_assert_cmpint (r[3].seq_begin, >, r[1].seq_end);
  g_assert_cmpint (r[3].seq_begin, >, r[2].seq_end);
  for (i = 0; i < 4; i++)
    {
      g_assert_cmpint (r[i].release_calls, ==, 1);
      g_assert_cmpint (r[i].finalized, ==, 1);
    }
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);
  order_log_end (&log);
  state_assert_all_released (&state);
}

/* ------------------------------------------------------------------------
 * Refusals
 * ------------------------------------------------------------------------ */

static RcNativeHandle *
named_handle (Rec        *rec,
              int         id,
              const char *type_id)
{
  rec_init (rec, id, rc_tn_dog_new (type_id));
  return dep_handle_new (rec, rec->expected, type_id);
}

static void
test_cycles (void)
{
  State state;
  Rec r[5];
  RcNativeHandle *a, *b, *c, *d, *e;
  static const char * const ids[5] = { "NODE_A", "NODE_B", "NODE_C", "NODE_D", "NODE_E" };
  RcNativeHandle **all[5] = { &a, &b, &c, &d, &e };
  int i;

  state_begin (&state);
  for (i = 0; i < 5; i++)
    *all[i] = named_handle (&r[i], i, ids[i]);

  /* itself */
  add_dep_refused (a, a, RC_ERROR_CYCLE);
  assert_deps (a, 0);
  g_assert_cmpint (count_of (a), ==, 1);

  /* two */
  add_dep_ok (a, b);
  add_dep_refused (b, a, RC_ERROR_CYCLE);
  add_dep_refused (b, b, RC_ERROR_CYCLE);

  /* longer: a -> b -> c -> d -> e */
  add_dep_ok (b, c);
  add_dep_ok (c, d);
  add_dep_ok (d, e);
  add_dep_refused (e, a, RC_ERROR_CYCLE);
  add_dep_refused (e, b, RC_ERROR_CYCLE);
  add_dep_refused (e, d, RC_ERROR_CYCLE);
  add_dep_refused (d, a, RC_ERROR_CYCLE);
  add_dep_refused (c, a, RC_ERROR_CYCLE);
  /* forward edges are fine, and a refusal left the graph usable */
  add_dep_ok (a, e);
  add_dep_ok (b, d);
  add_dep_refused (e, c, RC_ERROR_CYCLE);
  assert_deps (a, 2, b, e);
  assert_deps (b, 2, c, d);
  assert_deps (e, 0);
  g_assert_cmpint (count_of (a), ==, 1);
  g_assert_cmpint (count_of (b), ==, 2);
  g_assert_cmpint (count_of (c), ==, 2);
  g_assert_cmpint (count_of (d), ==, 3);
  g_assert_cmpint (count_of (e), ==, 3);

  /* the test keeps only a (and takes b again): a's release releases what
   * nothing else holds */
  for (i = 1; i < 5; i++)
    g_object_unref (*all[i]);
  g_object_ref (b);
  rc_native_handle_release (a);
  for (i = 0; i < 5; i++)
    g_assert_cmpint (r[i].release_ok, ==, i == 0 ? 1 : 0);
  g_assert_cmpint (count_of (b), ==, 1);
  /* a released: refused as disposed, not as a cycle */
  add_dep_refused (b, a, RC_ERROR_DISPOSED);
  g_object_unref (b);
  g_assert_cmpint (r[1].release_ok, ==, 1);
  for (i = 0; i < 5; i++)
    g_assert_cmpint (r[i].release_calls, ==, 1);
  g_object_unref (a);
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);
  state_assert_all_released (&state);
}

/* Checks a refusal of an owner against its dependency, both with type ids. */
static void
test_disposed (void)
{
  State state;
  Rec ro, rd;
  RcNativeHandle *o, *d;
  gpointer dog;
  GError *error = NULL;

  state_begin (&state);

  /* the dependency released */
  o = named_handle (&ro, 1, OWNER_TYPE_ID);
  d = named_handle (&rd, 2, DOG_TYPE_ID);
  rc_native_handle_release (d);
  g_assert_cmpint (rd.release_ok, ==, 1);
  add_dep_refused (o, d, RC_ERROR_DISPOSED);
  g_assert_cmpint (count_of (d), ==, 0);
  g_assert_cmpint (rd.release_calls, ==, 1);
  assert_deps (o, 0);
  g_object_unref (d);

  /* the dependency never given a pointer */
  d = RC_NATIVE_HANDLE (rc_deletable_native_handle_new_native (NULL, (gpointer) rc_tn_release, DOG_TYPE_ID));
  add_dep_refused (o, d, RC_ERROR_DISPOSED);
  /* and once it has one, it is accepted */
  dog = rc_tn_dog_new ("late");
  g_assert_true (rc_native_handle_set_handle (d, dog, 0, &error));
  g_assert_no_error (error);
  add_dep_ok (o, d);
  g_assert_cmpint (count_of (d), ==, 2);
  g_object_unref (d);
  g_assert_true (rc_tn_is_alive (dog));

  /* the owner released (its dependencies went with it) */
  rc_native_handle_release (o);
  g_assert_false (rc_tn_is_alive (dog));
  d = named_handle (&rd, 3, DOG_TYPE_ID);
  add_dep_refused (o, d, RC_ERROR_DISPOSED);
  g_assert_cmpint (count_of (d), ==, 1);
  g_assert_cmpint (gobject_refs (d), ==, 1);
  g_object_unref (o);

  /* the owner never given a pointer */
  o = dep_handle_new (&ro, NULL, OWNER_TYPE_ID);
  add_dep_refused (o, d, RC_ERROR_DISPOSED);
  g_object_unref (o);
  g_assert_cmpint (rd.release_calls, ==, 0);
  g_object_unref (d);
  g_assert_cmpint (rd.release_calls, ==, 1);

  /* both released */
  o = named_handle (&ro, 4, OWNER_TYPE_ID);
  d = named_handle (&rd, 5, DOG_TYPE_ID);
  rc_native_handle_release (o);
  rc_native_handle_release (d);
  add_dep_refused (o, d, RC_ERROR_DISPOSED);
  g_object_unref (o);
  g_object_unref (d);

  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);
  state_assert_all_released (&state);
}

static void
test_null_arguments (void)
{
  State state;
  Rec ro;
  RcNativeHandle *o;
  GObject *not_a_handle;
  GError *error = NULL;

  state_begin (&state);
  o = named_handle (&ro, 1, OWNER_TYPE_ID);
  not_a_handle = g_object_new (G_TYPE_OBJECT, NULL);

  g_test_expect_message (LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
  g_assert_false (rc_native_handle_add_dependency (NULL, o, &error));
  g_test_assert_expected_messages ();
  g_assert_no_error (error);

  g_test_expect_message (LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
  g_assert_false (rc_native_handle_add_dependency (o, NULL, &error));
  g_test_assert_expected_messages ();
  g_assert_no_error (error);

  g_test_expect_message (LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
  g_assert_false (rc_native_handle_add_dependency (o, (RcNativeHandle *) not_a_handle, &error));
  g_test_assert_expected_messages ();
  g_assert_no_error (error);

  g_test_expect_message (LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
  g_assert_false (rc_native_handle_add_dependency (NULL, NULL, NULL));
  g_test_assert_expected_messages ();

  g_test_expect_message (LOG_DOMAIN, G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
  g_assert_null (rc_native_handle_get_dependencies (NULL));
  g_test_assert_expected_messages ();

  /* nothing changed */
  g_assert_cmpint (count_of (o), ==, 1);
  g_assert_cmpint (gobject_refs (o), ==, 1);
  g_assert_cmpint (gobject_refs (not_a_handle), ==, 1);
  assert_deps (o, 0);
  g_object_unref (not_a_handle);
  g_object_unref (o);
  state_assert_all_released (&state);
}

/* A NULL error is allowed: the refusal is only the return value. */
static void
test_null_error (void)
{
  State state;
  Rec ro, rd;
  RcNativeHandle *o, *d;

  state_begin (&state);
  o = named_handle (&ro, 1, OWNER_TYPE_ID);
  d = named_handle (&rd, 2, DOG_TYPE_ID);
  g_assert_false (rc_native_handle_add_dependency (o, o, NULL));
  g_assert_true (rc_native_handle_add_dependency (o, d, NULL));
  g_assert_false (rc_native_handle_add_dependency (d, o, NULL));
  g_object_unref (d);
  g_object_unref (o);
  g_assert_cmpint (rd.release_calls, ==, 1);
  state_assert_all_released (&state);
}

/* ------------------------------------------------------------------------
 * Failed release, leaked owner
 * ------------------------------------------------------------------------ */

static void
test_failed_owner_release (gconstpointer data)
{
  gboolean retry_by_unref = GPOINTER_TO_INT (data);
  State state;
  OrderLog log;
  Rec ro, rd;
  gpointer dog, owner;
  RcNativeHandle *o, *d;

  state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  owner = rc_tn_owner_new_borrowing (dog);
  order_log_begin (&log, 4);
  rec_init (&ro, 1, owner);
  rec_init (&rd, 2, dog);
  o = dep_handle_new (&ro, owner, OWNER_TYPE_ID);
  d = dep_handle_new (&rd, dog, DOG_TYPE_ID);
  add_dep_ok (o, d);
  g_object_unref (d);
  ro.fail_next = 1;

  g_test_expect_message (LOG_DOMAIN, G_LOG_LEVEL_WARNING, FAILED_RELEASE_MESSAGE);
  rc_native_handle_release (o);
  g_test_assert_expected_messages ();

  /* kept: the owner still uses its dog */
  g_assert_cmpint (ro.release_calls, ==, 1);
  g_assert_cmpint (ro.release_ok, ==, 0);
  g_assert_false (rc_native_handle_is_disposed (o));
  g_assert_true (rc_tn_is_alive (owner));
  g_assert_true (rc_tn_is_alive (dog));
  g_assert_cmpint (rd.release_calls, ==, 0);
  g_assert_cmpint (rd.finalized, ==, 0);
  g_assert_cmpint (count_of (d), ==, 2);
  g_assert_cmpint (gobject_refs (d), ==, 1);
  assert_deps (o, 1, d);

  /* the retry succeeds and releases it */
  if (retry_by_unref)
    g_object_unref (o);
  else
    rc_native_handle_dispose (o);
  assert_order (&log, 2, 1, 2);
  g_assert_cmpint (ro.release_calls, ==, 2);
  g_assert_cmpint (rd.release_calls, ==, 1);
  g_assert_cmpint (rd.finalized, ==, 1);
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);
  if (!retry_by_unref)
    {
      assert_deps (o, 0);
      g_object_unref (o);
    }
  g_assert_cmpint (ro.finalized, ==, 1);
  order_log_end (&log);
  state_assert_all_released (&state);
}

/* An owner finalized with a reference never given back: what it depends on
 * keeps the count it holds (the leaked resource still uses it); only the
 * GObject reference goes. */
static void
test_leaked_owner (gconstpointer data)
{
  gboolean caller_keeps_dog = GPOINTER_TO_INT (data);
  State state;
  Rec ro, rd;
  gpointer dog, owner;
  RcNativeHandle *o, *d;
  gpointer o_alive, d_alive;

  state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  owner = rc_tn_owner_new_borrowing (dog);
  rec_init (&ro, 1, owner);
  rec_init (&rd, 2, dog);
  o = dep_handle_new (&ro, owner, OWNER_TYPE_ID);
  d = dep_handle_new (&rd, dog, DOG_TYPE_ID);
  o_alive = o;
  d_alive = d;
  watch_finalize (o, &o_alive);
  watch_finalize (d, &d_alive);
  add_dep_ok (o, d);
  rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (o));   /* never given back */
  if (!caller_keeps_dog)
    g_object_unref (d);

  /* RC_DEBUG is empty here: no leak warning (it would be fatal) */
  g_object_unref (o);
  g_assert_null (o_alive);
  g_assert_cmpint (ro.release_calls, ==, 0);
  g_assert_true (rc_tn_is_alive (owner));
  g_assert_true (rc_tn_is_alive (dog));
  g_assert_cmpint (rd.release_calls, ==, 0);
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);

  if (caller_keeps_dog)
    {
      /* its count still has the leaked owner's reference; the object is
       * the caller's alone */
      g_assert_nonnull (d_alive);
      g_assert_cmpint (gobject_refs (d), ==, 1);
      g_assert_cmpint (count_of (d), ==, 2);
      rc_native_handle_release (d);
      g_assert_cmpint (count_of (d), ==, 1);
      g_assert_true (rc_tn_is_alive (dog));
      g_assert_cmpint (rd.release_calls, ==, 0);
      /* the test plays the leaked owner: frees it natively (the borrowing
       * owner checks that its dog is still there), then gives back its
       * reference on the dog handle */
      rc_tn_release (owner);
      g_assert_cmpint (rc_tn_misuse_count (), ==, 0);
      rc_native_handle_release (d);
      g_assert_cmpint (rd.release_ok, ==, 1);
      g_assert_false (rc_tn_is_alive (dog));
      g_object_unref (d);
      g_assert_null (d_alive);
      g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased + 1);
    }
  else
    {
      /* nobody holds the dog handle object now: it is finalized with the
       * leaked owner's count, the dog stays */
      g_assert_null (d_alive);
      g_assert_cmpint (rd.finalized, ==, 1);
      g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased + 2);
      rc_tn_release (owner);
      g_assert_cmpint (rc_tn_misuse_count (), ==, 0);
      rc_tn_release (dog);
    }
  g_assert_cmpint (ro.finalized, ==, 1);
  state_assert_clean (&state);
}

/* An owner held only as a dependency is released from its own owner's
 * release, and so on: releases nested through release_handle. */
static void
test_owner_of_owner (void)
{
  State state;
  OrderLog log;
  gpointer dog, owner, walker;
  Rec rw, ro, rd;
  RcNativeHandle *w, *o, *d;

  state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  owner = rc_tn_owner_new_borrowing (dog);
  walker = rc_tn_owner_new_borrowing (dog);
  order_log_begin (&log, 4);
  rec_init (&rw, 1, walker);
  rec_init (&ro, 2, owner);
  rec_init (&rd, 3, dog);
  w = dep_handle_new (&rw, walker, OWNER_TYPE_ID);
  o = dep_handle_new (&ro, owner, OWNER_TYPE_ID);
  d = dep_handle_new (&rd, dog, DOG_TYPE_ID);
  add_dep_ok (o, d);
  add_dep_ok (w, o);
  add_dep_ok (w, d);
  g_object_unref (d);
  g_object_unref (o);
  g_assert_cmpint (rc_tn_owner_walk (walker), ==, 1);
  g_object_unref (w);
  /* w, then its dependencies in reverse: d's count, then o, which gives d
   * its last */
  assert_order (&log, 3, 1, 2, 3);
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);
  g_assert_cmpint (rw.finalized + ro.finalized + rd.finalized, ==, 3);
  order_log_end (&log);
  state_assert_all_released (&state);
}

/* ------------------------------------------------------------------------
 * Threads
 * ------------------------------------------------------------------------ */

#define N_THREADS 8
#define N_ADDERS 2      /* adders of a handle of their own */
/* Groups per round: the workers go through them in the same order, so that
 * they meet at each group while running side by side; a barrier round is
 * costly with more threads than cores. */
#define N_GROUPS 8

typedef struct
{
  Rec ro, rd;
  Rec rx[N_ADDERS];
  gpointer dog, owner;
  gpointer xdogs[N_ADDERS];
  RcNativeHandle *o, *d;
  RcNativeHandle *x[N_ADDERS];
  int added[N_ADDERS + 1];      /* [N_ADDERS]: the dog added again */
} DepGroup;

typedef struct
{
  DepGroup groups[N_GROUPS];
  /* totals */
  int n_added;
  int n_refused;
  int n_dog_again_added;
  int n_dog_again_refused;
} DepRace;

/* Roles, rotated by round and group: 0-2 release the owner, 3-4 the dog,
 * 5-6 add a handle of their own to the owner, 7 adds the dog to the owner
 * again. */
static int
role_of (guint worker,
         guint round,
         guint group)
{
  return (int) ((worker + round + group) % N_THREADS);
}

static void
dep_group_setup (DepGroup *g)
{
  int i;

  g->dog = rc_tn_dog_new ("raced");
  g->owner = rc_tn_owner_new_borrowing (g->dog);
  rec_init (&g->ro, 1, g->owner);
  rec_init (&g->rd, 2, g->dog);
  g->o = dep_handle_new (&g->ro, g->owner, OWNER_TYPE_ID);
  g->d = dep_handle_new (&g->rd, g->dog, DOG_TYPE_ID);
  add_dep_ok (g->o, g->d);

  for (i = 0; i < N_ADDERS; i++)
    {
      g->xdogs[i] = rc_tn_dog_new ("extra");
      rec_init (&g->rx[i], 10 + i, g->xdogs[i]);
      g->x[i] = dep_handle_new (&g->rx[i], g->xdogs[i], DOG_TYPE_ID);
      g->added[i] = -1;
    }
  g->added[N_ADDERS] = -1;

  /* the owner: 3 releasers with a count and a GObject reference each, 3
   * adders with a GObject reference; the wrapper's own count is given back
   * now, so that the owner goes with the releasers' last release, while
   * the adders may still hold it */
  for (i = 0; i < 3; i++)
    {
      g_object_ref (g->o);
      rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (g->o));
    }
  for (i = 0; i < 3; i++)
    g_object_ref (g->o);
  g_assert_true (rc_native_handle_drop_wrapper_reference (g->o));
  g_object_unref (g->o);
  g_assert_cmpint (count_of (g->o), ==, 3);

  /* the dog: 2 releasers with a count and a GObject reference, the last
   * adder a GObject reference; the owner holds one of each; its last count
   * goes with the releasers' last release or with the owner's release,
   * whichever comes last */
  for (i = 0; i < 2; i++)
    {
      g_object_ref (g->d);
      rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (g->d));
    }
  g_object_ref (g->d);
  g_assert_true (rc_native_handle_drop_wrapper_reference (g->d));
  g_object_unref (g->d);
  g_assert_cmpint (count_of (g->d), ==, 3);
}

static void
dep_race_setup (Race  *race,
                guint  round)
{
  DepRace *s = race->data;
  int k;

  g_assert_cmpuint (race->n_workers, ==, N_THREADS);
  for (k = 0; k < N_GROUPS; k++)
    dep_group_setup (&s->groups[k]);
}

static void
dep_group_act (DepGroup *g,
               int       role,
               guint     variant)
{
  GError *error = NULL;

  if (role < 3)
    {
      if (variant % 2 == 0)
        {
          rc_native_handle_release (g->o);
          g_object_unref (g->o);
        }
      else
        {
          /* a GObject reference pair first */
          g_object_ref (g->o);
          g_object_unref (g->o);
          rc_native_handle_release (g->o);
          g_object_unref (g->o);
        }
    }
  else if (role < 5)
    {
      rc_native_handle_release (g->d);
      g_object_unref (g->d);
    }
  else if (role < 5 + N_ADDERS)
    {
      int i = role - 5;
      RcNativeHandle *x = g->x[i];
      gboolean ok = rc_native_handle_add_dependency (g->o, x, &error);

      if (ok)
        g_assert_no_error (error);
      else
        {
          /* refused only because the owner is (being) released; the
           * dependency untouched */
          g_assert_error (error, RC_ERROR, RC_ERROR_DISPOSED);
          g_clear_error (&error);
          g_assert_cmpint (count_of (x), ==, 1);
          g_assert_cmpint (g_atomic_int_get (&g->rx[i].release_calls), ==, 0);
        }
      g->added[i] = ok;
      g_object_unref (g->o);
      rc_native_handle_release (x);
      g_object_unref (x);
    }
  else
    {
      /* the dog, again */
      gboolean ok = rc_native_handle_add_dependency (g->o, g->d, &error);

      if (!ok)
        {
          g_assert_error (error, RC_ERROR, RC_ERROR_DISPOSED);
          g_clear_error (&error);
        }
      g->added[N_ADDERS] = ok;
      g_object_unref (g->o);
      g_object_unref (g->d);
    }
}

static void
dep_race_worker (Race  *race,
                 guint  worker,
                 guint  round)
{
  DepRace *s = race->data;
  guint k;

  for (k = 0; k < N_GROUPS; k++)
    dep_group_act (&s->groups[k], role_of (worker, round, k), worker + round / N_THREADS);
}

static void
dep_group_check (DepRace  *s,
                 DepGroup *g)
{
  int i;

  /* everything released once and finalized */
  g_assert_cmpint (g->ro.release_calls, ==, 1);
  g_assert_cmpint (g->ro.release_ok, ==, 1);
  g_assert_cmpint (g->ro.finalized, ==, 1);
  g_assert_cmpint (g->rd.release_calls, ==, 1);
  g_assert_cmpint (g->rd.finalized, ==, 1);
  g_assert_cmpint (g->ro.wrong_pointer + g->rd.wrong_pointer, ==, 0);
  /* never early: the dog after its owner (and the borrowing owner saw its
   * dog alive: no misuse, checked by the caller) */
  g_assert_cmpint (g->rd.seq_begin, >, g->ro.seq_end);
  g_assert_false (rc_tn_is_alive (g->dog));
  g_assert_false (rc_tn_is_alive (g->owner));

  /* the adders' own handles: released once; after the owner if added */
  for (i = 0; i < N_ADDERS; i++)
    {
      Rec *rx = &g->rx[i];

      g_assert_cmpint (g->added[i], >=, 0);
      g_assert_cmpint (rx->release_calls, ==, 1);
      g_assert_cmpint (rx->release_ok, ==, 1);
      g_assert_cmpint (rx->finalized, ==, 1);
      g_assert_false (rc_tn_is_alive (g->xdogs[i]));
      if (g->added[i])
        {
          g_assert_cmpint (rx->seq_begin, >, g->ro.seq_end);
          s->n_added++;
        }
      else
        s->n_refused++;
    }
  g_assert_cmpint (g->added[N_ADDERS], >=, 0);
  if (g->added[N_ADDERS])
    s->n_dog_again_added++;
  else
    s->n_dog_again_refused++;
}

static void
dep_race_check (Race  *race,
                guint  round)
{
  DepRace *s = race->data;
  int k;

  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);
  for (k = 0; k < N_GROUPS; k++)
    dep_group_check (s, &s->groups[k]);
}

static void
test_threads_release_and_add (void)
{
  State state;
  DepRace *s = g_new0 (DepRace, 1);
  guint groups = quick_mode () ? 2000 : 100000;
  guint rounds = groups / N_GROUPS;

  state_begin (&state);
  race_run (N_THREADS, rounds, dep_race_setup, dep_race_worker, dep_race_check, s);
  g_test_message ("%u rounds of %d threads on %d groups each (%u owner/dog races)%s: in each, 3 release an "
                  "owner, 2 its dog, 2 add a dependency to the owner, 1 adds the dog again; "
                  "added %d, refused %d; dog again: added %d, refused %d",
                  rounds, N_THREADS, N_GROUPS, rounds * N_GROUPS, quick_mode () ? " (RC_TEST_QUICK)" : "",
                  s->n_added, s->n_refused, s->n_dog_again_added, s->n_dog_again_refused);
  /* both outcomes of the race were seen (else it raced nothing) */
  g_assert_cmpint (s->n_added, >, 0);
  g_assert_cmpint (s->n_refused, >, 0);
  state_assert_all_released (&state);
  g_free (s);
}

/* --- threads closing a ring of dependencies at once: no cycle forms --- */

typedef struct
{
  int n;
  Rec r[N_THREADS];
  RcNativeHandle *h[N_THREADS];
  int ok[N_THREADS];
  int code[N_THREADS];
  guint64 refused_by_position[N_THREADS];
} RingRace;

static void
ring_setup (Race  *race,
            guint  round)
{
  RingRace *s = race->data;
  int i;

  for (i = 0; i < s->n; i++)
    {
      rec_init (&s->r[i], i, rc_tn_dog_new (NULL));
      s->h[i] = dep_handle_new (&s->r[i], s->r[i].expected, DOG_TYPE_ID);
      s->ok[i] = -1;
      s->code[i] = -1;
    }
}

static void
ring_worker (Race  *race,
             guint  worker,
             guint  round)
{
  RingRace *s = race->data;
  int i = (int) worker;
  GError *error = NULL;

  s->ok[i] = rc_native_handle_add_dependency (s->h[i], s->h[(i + 1) % s->n], &error);
  if (error != NULL)
    {
      s->code[i] = error->code;
      g_assert_true (error->domain == RC_ERROR);
      g_clear_error (&error);
    }
}

static void
ring_check (Race  *race,
            guint  round)
{
  RingRace *s = race->data;
  int refused = -1;
  int i;

  /* exactly one edge refused, as a cycle */
  for (i = 0; i < s->n; i++)
    {
      if (!s->ok[i])
        {
          g_assert_cmpint (refused, ==, -1);
          g_assert_cmpint (s->code[i], ==, RC_ERROR_CYCLE);
          refused = i;
        }
      else
        g_assert_cmpint (s->code[i], ==, -1);
    }
  g_assert_cmpint (refused, >=, 0);
  s->refused_by_position[refused]++;

  /* the chain it left is released in order: release the handles in a
   * rotating order, then everything is released once, each after the
   * handles depending on it */
  for (i = 0; i < s->n; i++)
    {
      int k = (i + (int) round) % s->n;

      rc_native_handle_release (s->h[k]);
    }
  for (i = 0; i < s->n; i++)
    {
      g_assert_cmpint (s->r[i].release_calls, ==, 1);
      /* h[i] depends on h[i+1] unless that edge was refused */
      if (i != refused)
        g_assert_cmpint (s->r[(i + 1) % s->n].seq_begin, >, s->r[i].seq_end);
    }
  for (i = 0; i < s->n; i++)
    g_object_unref (s->h[i]);
  for (i = 0; i < s->n; i++)
    g_assert_cmpint (s->r[i].finalized, ==, 1);
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);
}

static void
test_threads_ring (gconstpointer data)
{
  int n = GPOINTER_TO_INT (data);
  State state;
  RingRace *s = g_new0 (RingRace, 1);
  guint rounds = quick_mode () ? 200 : 10000;
  GString *summary = g_string_new (NULL);
  int i;

  s->n = n;
  state_begin (&state);
  race_run ((guint) n, rounds, ring_setup, ring_worker, ring_check, s);
  for (i = 0; i < n; i++)
    g_string_append_printf (summary, " %" G_GUINT64_FORMAT, s->refused_by_position[i]);
  g_test_message ("%u rounds of %d threads closing a ring of %d handles at once%s; "
                  "refused edge by position:%s", rounds, n, n,
                  quick_mode () ? " (RC_TEST_QUICK)" : "", summary->str);
  g_string_free (summary, TRUE);
  state_assert_all_released (&state);
  g_free (s);
}

/* --- a long chain released while other threads build and drop theirs --- */

static gpointer
chain_thread (gpointer data)
{
  int n = GPOINTER_TO_INT (data);
  RcNativeHandle *prev = NULL;
  gpointer *dogs = g_new0 (gpointer, n);
  int i;

  for (i = 0; i < n; i++)
    {
      RcNativeHandle *h;

      dogs[i] = rc_tn_dog_new (NULL);
      h = RC_NATIVE_HANDLE (rc_deletable_native_handle_new_native (dogs[i], (gpointer) rc_tn_release,
                                                                   DOG_TYPE_ID));
      if (prev != NULL)
        {
          add_dep_ok (h, prev);
          g_object_unref (prev);
        }
      prev = h;
    }
  g_object_unref (prev);
  for (i = 0; i < n; i++)
    g_assert_false (rc_tn_is_alive (dogs[i]));
  g_free (dogs);
  return NULL;
}

static void
test_threads_chains (void)
{
  State state;
  GThread *threads[N_THREADS];
  int n = quick_mode () ? 2000 : 50000;
  int i;

  state_begin (&state);
  for (i = 0; i < N_THREADS; i++)
    threads[i] = g_thread_new ("chain", chain_thread, GINT_TO_POINTER (n));
  for (i = 0; i < N_THREADS; i++)
    g_thread_join (threads[i]);
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);
  state_assert_all_released (&state);
}

/* ------------------------------------------------------------------------
 * The live report (RC_DEBUG=leaks), in subprocesses: the variable is read
 * once per process
 * ------------------------------------------------------------------------ */

#define NOT_TRACKED_REPORT "refcount live handles: not tracked (set RC_DEBUG=leaks)\n"
#define EMPTY_REPORT "refcount live handles: 0 not released\n"

static void
run_child (const char *path,
           const char *rc_debug)
{
  char *saved = g_strdup (g_getenv ("RC_DEBUG"));

  if (rc_debug != NULL)
    g_setenv ("RC_DEBUG", rc_debug, TRUE);
  else
    g_unsetenv ("RC_DEBUG");
  g_test_trap_subprocess (path, 120 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  if (saved != NULL)
    g_setenv ("RC_DEBUG", saved, TRUE);
  else
    g_unsetenv ("RC_DEBUG");
  g_free (saved);
  g_test_trap_assert_passed ();
}

static char *
edge_line (RcNativeHandle *from,
           RcNativeHandle *to)
{
  const char *from_id = rc_native_handle_get_type_id (from);
  const char *to_id = rc_native_handle_get_type_id (to);
  char *from_name = from_id != NULL ? g_strdup_printf ("\"%s\"", from_id) : g_strdup ("(none)");
  char *to_name = to_id != NULL ? g_strdup_printf ("\"%s\"", to_id) : g_strdup ("(none)");
  char *line = g_strdup_printf ("  %s (%s %p) -> %s (%s %p)",
                                from_name, G_OBJECT_TYPE_NAME (from), (gpointer) from,
                                to_name, G_OBJECT_TYPE_NAME (to), (gpointer) to);

  g_free (from_name);
  g_free (to_name);
  return line;
}

static int
find_line (char       **lines,
           const char  *line)
{
  int i;

  for (i = 0; lines[i] != NULL; i++)
    {
      if (strcmp (lines[i], line) == 0)
        return i;
    }
  return -1;
}

static void
live_report_child (void)
{
  gpointer dogs[3];
  gpointer owner, owner2;
  RcNativeHandle *d1, *d2, *n, *o, *o2;
  char *report;
  char **lines;
  char *edge1, *edge2;
  int dog_line, owner_line, none_line;
  int i;

  /* the leak warning of the finalized handle is a warning: not fatal */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_assert_cmpstr (g_getenv ("RC_DEBUG"), ==, "leaks");
  g_assert_true (rc_debug_tracks_live_handles ());

  report = rc_debug_live_report ();
  g_assert_cmpstr (report, ==, EMPTY_REPORT);
  g_free (report);

  for (i = 0; i < 3; i++)
    dogs[i] = rc_tn_dog_new (NULL);
  owner = rc_tn_owner_new_borrowing (dogs[0]);
  owner2 = rc_tn_owner_new_borrowing (dogs[2]);
  d1 = RC_NATIVE_HANDLE (rc_deletable_native_handle_new_native (dogs[0], (gpointer) rc_tn_release, DOG_TYPE_ID));
  d2 = RC_NATIVE_HANDLE (rc_deletable_native_handle_new_native (dogs[1], (gpointer) rc_tn_release, DOG_TYPE_ID));
  n = RC_NATIVE_HANDLE (rc_deletable_native_handle_new_native (dogs[2], (gpointer) rc_tn_release, NULL));
  o = RC_NATIVE_HANDLE (rc_deletable_native_handle_new_native (owner, (gpointer) rc_tn_release, OWNER_TYPE_ID));
  o2 = RC_NATIVE_HANDLE (rc_deletable_native_handle_new_native (owner2, (gpointer) rc_tn_release, NULL));
  add_dep_ok (o, d1);
  add_dep_ok (o2, n);
  edge1 = edge_line (o, d1);
  edge2 = edge_line (o2, n);

  /* d1 is held by its owner only; d2 is finalized with a reference
   * outstanding */
  g_object_unref (d1);
  rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (d2));
  g_object_unref (d2);

  report = rc_debug_live_report ();
  g_test_message ("report:\n%s", report);
  g_assert_true (g_str_has_suffix (report, "\n"));
  lines = g_strsplit (report, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 8);   /* 7 lines and the empty tail */
  g_assert_cmpstr (lines[0], ==, "refcount live handles: 5 not released");
  dog_line = find_line (lines, "  type id \"DOG_PTR\": 2 not released (1 alive, 1 finalized with outstanding references)");
  owner_line = find_line (lines, "  type id \"OWNER_PTR\": 1 not released (1 alive, 0 finalized with outstanding references)");
  none_line = find_line (lines, "  type id (none): 2 not released (2 alive, 0 finalized with outstanding references)");
  g_assert_cmpint (dog_line, >=, 1);
  g_assert_cmpint (owner_line, >=, 1);
  g_assert_cmpint (none_line, >=, 1);
  g_assert_cmpint (dog_line, <=, 3);
  g_assert_cmpint (owner_line, <=, 3);
  g_assert_cmpint (none_line, <=, 3);
  /* sorted by type id */
  g_assert_cmpint (dog_line, <, owner_line);
  g_assert_cmpstr (lines[4], ==, "dependencies keeping them alive:");
  g_assert_cmpint (find_line (lines, edge1), >=, 5);
  g_assert_cmpint (find_line (lines, edge2), >=, 5);
  g_assert_cmpstr (lines[7], ==, "");
  g_strfreev (lines);
  g_free (report);

  /* release what is alive: the owners, then the handle the test still
   * holds (o2 gave back its count); only the finalized one is left, and no
   * edges */
  g_object_unref (o);
  g_object_unref (o2);
  g_assert_false (rc_tn_is_alive (dogs[0]));
  g_assert_true (rc_tn_is_alive (dogs[2]));
  report = rc_debug_live_report ();
  lines = g_strsplit (report, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 4);
  g_assert_cmpstr (lines[0], ==, "refcount live handles: 2 not released");
  g_assert_cmpint (find_line (lines, "  type id (none): 1 not released (1 alive, 0 finalized with outstanding references)"), >=, 1);
  g_assert_cmpint (find_line (lines, "  type id \"DOG_PTR\": 1 not released (0 alive, 1 finalized with outstanding references)"), >=, 1);
  g_strfreev (lines);
  g_free (report);
  g_object_unref (n);
  report = rc_debug_live_report ();
  g_assert_cmpstr (report, ==, "refcount live handles: 1 not released\n"
                   "  type id \"DOG_PTR\": 1 not released (0 alive, 1 finalized with outstanding references)\n");
  g_free (report);

  g_assert_false (rc_tn_is_alive (dogs[0]));
  g_assert_false (rc_tn_is_alive (dogs[2]));
  rc_tn_release (dogs[1]);   /* the leaked one */
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);
  g_assert_cmpint (rc_tn_live_count (), ==, 0);
  g_free (edge1);
  g_free (edge2);
  /* at exit, the report goes to stderr: one handle was never released */
}

static void
test_live_report (void)
{
  if (g_test_subprocess ())
    {
      live_report_child ();
      return;
    }

  run_child ("/dependencies/live-report/tracked", "leaks");
  g_test_trap_assert_stderr ("*Native handle of type id \"DOG_PTR\" leaked*");
  g_test_trap_assert_stderr ("*refcount live handles: 1 not released\n"
                             "  type id \"DOG_PTR\": 1 not released (0 alive, 1 finalized with outstanding references)\n*");
  g_test_trap_assert_stderr_unmatched ("*dependencies keeping them alive*");
}

/* With RC_DEBUG=leaks and everything released: nothing at exit. */
static void
test_live_report_all_released (void)
{
  if (g_test_subprocess ())
    {
      gpointer dog = rc_tn_dog_new (NULL);
      gpointer owner = rc_tn_owner_new_borrowing (dog);
      RcNativeHandle *d = RC_NATIVE_HANDLE (rc_deletable_native_handle_new_native (dog, (gpointer) rc_tn_release,
                                                                                   DOG_TYPE_ID));
      RcNativeHandle *o = RC_NATIVE_HANDLE (rc_deletable_native_handle_new_native (owner, (gpointer) rc_tn_release,
                                                                                   OWNER_TYPE_ID));
      char *report;
      char *edge = edge_line (o, d);
      char *expected = g_strdup_printf ("refcount live handles: 2 not released\n"
                                        "  type id \"DOG_PTR\": 1 not released (1 alive, 0 finalized with outstanding references)\n"
                                        "  type id \"OWNER_PTR\": 1 not released (1 alive, 0 finalized with outstanding references)\n"
                                        "dependencies keeping them alive:\n"
                                        "%s\n", edge);

      add_dep_ok (o, d);
      report = rc_debug_live_report ();
      g_assert_cmpstr (report, ==, expected);
      g_free (report);
      g_free (expected);
      g_free (edge);

      g_object_unref (d);
      g_object_unref (o);
      report = rc_debug_live_report ();
      g_assert_cmpstr (report, ==, EMPTY_REPORT);
      g_free (report);
      g_assert_cmpint (rc_tn_misuse_count (), ==, 0);
      g_assert_cmpint (rc_tn_live_count (), ==, 0);
      return;
    }

  run_child ("/dependencies/live-report/all-released", "leaks");
  g_test_trap_assert_stderr_unmatched ("*refcount live handles*");
}

/* Without RC_DEBUG=leaks nothing is tracked, whatever lives. */
static void
not_tracked_child (void)
{
  gpointer dog = rc_tn_dog_new (NULL);
  RcNativeHandle *d = RC_NATIVE_HANDLE (rc_deletable_native_handle_new_native (dog, (gpointer) rc_tn_release,
                                                                               DOG_TYPE_ID));
  char *report = rc_debug_live_report ();

  g_assert_cmpstr (report, ==, NOT_TRACKED_REPORT);
  g_free (report);
  rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (d));
  g_object_unref (d);   /* leaked; no warning without RC_DEBUG=leaks */
  report = rc_debug_live_report ();
  g_assert_cmpstr (report, ==, NOT_TRACKED_REPORT);
  g_free (report);
  rc_tn_release (dog);
}

static void
test_live_report_not_tracked (void)
{
  if (g_test_subprocess ())
    {
      not_tracked_child ();
      return;
    }

  run_child ("/dependencies/live-report/not-tracked", "");
  g_test_trap_assert_stderr_unmatched ("*refcount live handles*");
  g_test_trap_assert_stderr_unmatched ("*leaked*");
}

static void
test_live_report_unset (void)
{
  if (g_test_subprocess ())
    {
      g_assert_null (g_getenv ("RC_DEBUG"));
      not_tracked_child ();
      return;
    }

  run_child ("/dependencies/live-report/unset", NULL);
  g_test_trap_assert_stderr_unmatched ("*refcount live handles*");
}

/* In this process (RC_DEBUG empty, see main): not tracked either. */
static void
test_live_report_here (void)
{
  char *report = rc_debug_live_report ();

  g_assert_false (rc_debug_tracks_live_handles ());
  g_assert_cmpstr (report, ==, NOT_TRACKED_REPORT);
  g_free (report);
}

int
main (int   argc,
      char *argv[])
{
  int flavor;

  g_test_init (&argc, &argv, NULL);
  /* leak warnings would be fatal: the leaks here are on purpose; a child
   * keeps what its parent set for it */
  if (!g_test_subprocess ())
    g_setenv ("RC_DEBUG", "", TRUE);

  /* first: the parent sets RC_DEBUG for its children, best before any
   * thread exists */
  g_test_add_func ("/dependencies/live-report/here", test_live_report_here);
  g_test_add_func ("/dependencies/live-report/tracked", test_live_report);
  g_test_add_func ("/dependencies/live-report/all-released", test_live_report_all_released);
  g_test_add_func ("/dependencies/live-report/not-tracked", test_live_report_not_tracked);
  g_test_add_func ("/dependencies/live-report/unset", test_live_report_unset);
  g_test_add_func ("/dependencies/basic", test_basic);
  g_test_add_func ("/dependencies/witness", test_witness);
  for (flavor = 0; flavor < N_FLAVORS; flavor++)
    {
      char *path = g_strdup_printf ("/dependencies/drop-orders/%s", flavor_names[flavor]);

      g_test_add_data_func (path, GINT_TO_POINTER (flavor), test_drop_orders);
      g_free (path);
    }
  g_test_add_func ("/dependencies/reverse-order", test_reverse_order);
  g_test_add_data_func ("/dependencies/duplicate/owner-first", GINT_TO_POINTER (FALSE), test_duplicate);
  g_test_add_data_func ("/dependencies/duplicate/dog-first", GINT_TO_POINTER (TRUE), test_duplicate);
  g_test_add_func ("/dependencies/chain/long", test_long_chain);
  g_test_add_data_func ("/dependencies/chain/top-down", GINT_TO_POINTER (TRUE), test_chain_orders);
  g_test_add_data_func ("/dependencies/chain/bottom-up", GINT_TO_POINTER (FALSE), test_chain_orders);
  g_test_add_data_func ("/dependencies/diamond/unref", GINT_TO_POINTER (DIAMOND_UNREF), test_diamond);
  g_test_add_data_func ("/dependencies/diamond/release", GINT_TO_POINTER (DIAMOND_RELEASE), test_diamond);
  g_test_add_data_func ("/dependencies/diamond/keep-d", GINT_TO_POINTER (DIAMOND_KEEP_D), test_diamond);
  g_test_add_func ("/dependencies/owner-of-owner", test_owner_of_owner);
  g_test_add_func ("/dependencies/cycles", test_cycles);
  g_test_add_func ("/dependencies/disposed", test_disposed);
  g_test_add_func ("/dependencies/null-arguments", test_null_arguments);
  g_test_add_func ("/dependencies/null-error", test_null_error);
  g_test_add_data_func ("/dependencies/failed-release/dispose", GINT_TO_POINTER (FALSE), test_failed_owner_release);
  g_test_add_data_func ("/dependencies/failed-release/unref", GINT_TO_POINTER (TRUE), test_failed_owner_release);
  g_test_add_data_func ("/dependencies/leaked-owner/dog-kept", GINT_TO_POINTER (TRUE), test_leaked_owner);
  g_test_add_data_func ("/dependencies/leaked-owner/dog-dropped", GINT_TO_POINTER (FALSE), test_leaked_owner);
  g_test_add_func ("/dependencies/threads/release-and-add", test_threads_release_and_add);
  g_test_add_data_func ("/dependencies/threads/ring/2", GINT_TO_POINTER (2), test_threads_ring);
  g_test_add_data_func ("/dependencies/threads/ring/8", GINT_TO_POINTER (8), test_threads_ring);
  g_test_add_func ("/dependencies/threads/chains", test_threads_chains);

  return g_test_run ();
}
