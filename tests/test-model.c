/* test-model.c: a seeded random sequence of operations, checked against a model
 *
 * SPDX-License-Identifier: MIT
 *
 * A million random steps (50,000 with RC_TEST_QUICK=1, as set by the
 * valgrind setup) over a pool of handles of every kind, each step checked
 * against a small executable model of the counter contract
 * (/tmp/rc-contract.md, DESIGN.md "Counter semantics"):
 *
 *  - kinds: RcDeletableNativeHandle over a dog of the native test library,
 *    with rc_tn_release by address (new_native) or with a counting release
 *    function (new); ModelFailHandle, a C subclass whose release_handle can
 *    be told to fail the next one or two calls; RcOwningNativeHandle over a
 *    dog that the test owns natively; ModelOwnerHandle over
 *    rc_tn_owner_new (dog), which holds a GObject reference and an add_ref
 *    on the dog's handle and gives both back in its release_handle (the
 *    native owner holds the dog natively as well).  Any of the first four
 *    can be created empty and set later with rc_native_handle_set_handle().
 *  - operations: create, add_ref, decrement_ref, release, dispose, acquire
 *    (and a later release of the borrow), a borrow used at once, g_object_ref,
 *    g_object_unref (the last one releases the wrapper's reference),
 *    g_object_run_dispose, drop_wrapper_reference, set_handle (with each of
 *    its errors), arming a release failure (then releases retry), to_string,
 *    add_dependency between any two live handles (refused as a cycle or as
 *    disposed when the model says so; on success the dependency's count and
 *    object are held, and given back right after the owner's successful
 *    release, in reverse order of addition; an owner finalized unreleased
 *    keeps the counts and drops the objects).
 *
 * The model keeps, per handle: the expected count, the phase (unset, open,
 * released), whether the wrapper's reference was given back, the GObject
 * references held by the test and by owners (dependencies included), the
 * borrows, the release_handle calls, the dependencies in order (checked
 * against rc_native_handle_get_dependencies); per native object: whether it is alive and its native count.
 * After every step the real objects are compared with the model: counts,
 * is_disposed, get_handle, GObject ref_count, release_handle calls (each
 * release exactly once), the freed callback of every native object (each
 * freed exactly once, only when the model says so), rc_tn_is_alive and
 * rc_tn_get_ref_count of every native object, rc_tn_misuse_count () == 0,
 * and the global live / unreleased counters.
 *
 * When the last GObject reference of a handle goes while references are
 * outstanding, the native resource is leaked on purpose (the contract); the
 * test then gives the leaked native reference back itself, so that at the
 * end every native object is freed.
 *
 * The seed is printed with g_test_message; RC_TEST_SEED=<n> replays it and
 * RC_TEST_STEPS=<n> overrides the number of steps.  On a mismatch the last
 * steps are printed before the assertion fails.
 */

#include <string.h>

#include <refcount/refcount.h>

#include "rc-test-native.h"
#include "test-common.h"

#define N_SLOTS 10
#define MAX_NATIVES 64
#define MAX_COUNT 6
#define MAX_DEPS 4
#define HISTORY 48
#define LOG_DOMAIN "Refcount"
#define FAILED_RELEASE_MESSAGE "Failed to release native handle*"

/* The first prior count set_handle refuses: the count must fit in 29 bits. */
#define PRIOR_OUT_OF_RANGE (G_MAXINT / 4)

static guint32
base_seed (void)
{
  const char *env = g_getenv ("RC_TEST_SEED");

  if (env != NULL && env[0] != '\0')
    return (guint32) g_ascii_strtoull (env, NULL, 0);

  return g_test_rand_int ();
}

static guint64
n_steps (void)
{
  const char *env = g_getenv ("RC_TEST_STEPS");

  if (env != NULL && env[0] != '\0')
    return g_ascii_strtoull (env, NULL, 0);

  return quick_mode () ? 50000 : 1000000;
}

/* ------------------------------------------------------------------------
 * What the library side reports: one probe per handle, written by the
 * release functions, the destroy notify and object data cleared at finalize.
 * ------------------------------------------------------------------------ */

typedef struct
{
  int release_calls;    /* release_handle (or release function) calls */
  int release_ok;       /* of which succeeded */
  int notify_calls;     /* destroy notify of RcDeletableNativeHandle */
  int finalized;        /* finalize calls (object data destroyed) */
  int wrong_pointer;    /* release_handle saw another pointer than expected */
  int fail_next;        /* ModelFailHandle: how many more calls fail */
  gpointer expected;    /* the pointer release_handle must see */
} Probe;

static void
probe_release_func (gpointer ptr,
                    gpointer user_data)
{
  Probe *probe = user_data;

  probe->release_calls++;
  probe->release_ok++;
  if (ptr != probe->expected)
    probe->wrong_pointer++;
  rc_tn_release (ptr);
}

static void
probe_notify (gpointer user_data)
{
  Probe *probe = user_data;

  probe->notify_calls++;
}

/* Object data is cleared at finalize (weak references would be notified by
 * g_object_run_dispose already). */
static void
probe_finalized (gpointer user_data)
{
  Probe *probe = user_data;

  probe->finalized++;
}

/* ------------------------------------------------------------------------
 * ModelFailHandle: releases a dog with rc_tn_release, unless told to fail;
 * accepts only live native objects.
 * ------------------------------------------------------------------------ */

#define MODEL_TYPE_FAIL_HANDLE (model_fail_handle_get_type ())
G_DECLARE_FINAL_TYPE (ModelFailHandle, model_fail_handle, MODEL, FAIL_HANDLE, RcNativeHandle)

struct _ModelFailHandle
{
  RcNativeHandle parent_instance;

  Probe *probe;
};

G_DEFINE_FINAL_TYPE (ModelFailHandle, model_fail_handle, RC_TYPE_NATIVE_HANDLE)

static gboolean
model_fail_handle_release_handle (RcNativeHandle *handle)
{
  ModelFailHandle *self = MODEL_FAIL_HANDLE (handle);
  Probe *probe = self->probe;
  gpointer ptr = rc_native_handle_get_handle (handle);

  probe->release_calls++;
  if (ptr != probe->expected)
    probe->wrong_pointer++;
  if (probe->fail_next > 0)
    {
      probe->fail_next--;
      return FALSE;
    }

  probe->release_ok++;
  rc_tn_release (ptr);
  return TRUE;
}

static gboolean
model_fail_handle_is_valid_handle (RcNativeHandle *handle,
                                   gpointer        ptr)
{
  return rc_tn_is_alive (ptr) != 0;
}

static void
model_fail_handle_class_init (ModelFailHandleClass *klass)
{
  RcNativeHandleClass *handle_class = RC_NATIVE_HANDLE_CLASS (klass);

  handle_class->release_handle = model_fail_handle_release_handle;
  handle_class->is_valid_handle = model_fail_handle_is_valid_handle;
}

static void
model_fail_handle_init (ModelFailHandle *self)
{
}

/* ------------------------------------------------------------------------
 * ModelOwnerHandle: a handle over rc_tn_owner_new (dog).  It also holds the
 * dog's handle (a GObject reference and an add_ref), given back in its
 * release_handle after the native owner; if it is finalized unreleased
 * (leaked), only the GObject reference is given back.
 * ------------------------------------------------------------------------ */

#define MODEL_TYPE_OWNER_HANDLE (model_owner_handle_get_type ())
G_DECLARE_FINAL_TYPE (ModelOwnerHandle, model_owner_handle, MODEL, OWNER_HANDLE, RcNativeHandle)

struct _ModelOwnerHandle
{
  RcNativeHandle parent_instance;

  Probe *probe;
  RcNativeHandle *dog;
};

G_DEFINE_FINAL_TYPE (ModelOwnerHandle, model_owner_handle, RC_TYPE_NATIVE_HANDLE)

static gboolean
model_owner_handle_release_handle (RcNativeHandle *handle)
{
  ModelOwnerHandle *self = MODEL_OWNER_HANDLE (handle);
  Probe *probe = self->probe;
  gpointer ptr = rc_native_handle_get_handle (handle);
  RcNativeHandle *dog = g_steal_pointer (&self->dog);

  probe->release_calls++;
  if (ptr != probe->expected)
    probe->wrong_pointer++;
  rc_tn_release (ptr);
  if (dog != NULL)
    {
      rc_native_handle_release (dog);
      g_object_unref (dog);
    }
  probe->release_ok++;
  return TRUE;
}

static void
model_owner_handle_finalize (GObject *object)
{
  ModelOwnerHandle *self = MODEL_OWNER_HANDLE (object);

  g_clear_object (&self->dog);
  G_OBJECT_CLASS (model_owner_handle_parent_class)->finalize (object);
}

static void
model_owner_handle_class_init (ModelOwnerHandleClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = model_owner_handle_finalize;
  RC_NATIVE_HANDLE_CLASS (klass)->release_handle = model_owner_handle_release_handle;
}

static void
model_owner_handle_init (ModelOwnerHandle *self)
{
}

/* ------------------------------------------------------------------------
 * The model
 * ------------------------------------------------------------------------ */

typedef enum
{
  KIND_DEL_NATIVE,      /* rc_deletable_native_handle_new_native (dog, rc_tn_release) */
  KIND_DEL_FUNC,        /* rc_deletable_native_handle_new (dog, counting func, notify) */
  KIND_FAIL,            /* ModelFailHandle over a dog */
  KIND_OWNING,          /* RcOwningNativeHandle over a dog the test owns */
  KIND_OWNER,           /* ModelOwnerHandle over an owner of another handle's dog */
  N_KINDS
} Kind;

static const char * const kind_names[N_KINDS] = {
  "deletable-native", "deletable-func", "fail", "owning", "owner",
};

typedef enum
{
  PHASE_UNSET,
  PHASE_OPEN,
  PHASE_RELEASED,
} Phase;

typedef struct
{
  gboolean used;          /* the GObject is alive (or dies in this step) */
  gboolean finalizing;    /* it dies in this step: checked, then freed */
  guint id;               /* creation number, for messages */
  Kind kind;
  RcNativeHandle *handle;
  Phase phase;
  int count;              /* expected count while open or released */
  int unset_count;        /* the count seen at creation, while unset */
  gpointer ptr;           /* the pointer while open */
  gpointer owned_dog;     /* KIND_OWNING: the dog the test holds for it */
  gboolean wrapper_dropped;
  int test_refs;          /* GObject references held by the test */
  int owner_refs;         /* GObject references held by owner handles */
  int borrows;            /* acquires not given back yet */
  int fail_next;          /* KIND_FAIL: failures to come */
  int release_calls;      /* expected release_handle calls */
  int release_ok;
  int notify_calls;       /* KIND_DEL_FUNC */
  int dog_slot;           /* KIND_OWNER: the dog handle held, or -1 */
  int deps[MAX_DEPS];     /* rc_native_handle_add_dependency: the slots, in order */
  int n_deps;
  gboolean releasing;     /* its release_handle is running (a release is a no-op) */
  Probe probe;
} MHandle;

typedef struct
{
  gpointer ptr;
  int kind;               /* RC_TN_KIND_* */
  int refs;               /* expected native count */
  gpointer owner_dog;     /* an owner's dog */
  gboolean dead;          /* freed in this step */
  int freed_seen;         /* freed callback calls */
} MNative;

typedef enum
{
  OP_CREATE,
  OP_ADD_REF,
  OP_DECREMENT_REF,
  OP_RELEASE,
  OP_DISPOSE,
  OP_ACQUIRE,
  OP_BORROW_END,
  OP_USE,
  OP_GOBJECT_REF,
  OP_GOBJECT_UNREF,
  OP_RUN_DISPOSE,
  OP_DROP_WRAPPER,
  OP_SET_HANDLE,
  OP_ARM_FAILURE,
  OP_TO_STRING,
  OP_ADD_DEPENDENCY,
  N_OPS
} Op;

static const char * const op_names[N_OPS] = {
  "create", "add_ref", "decrement_ref", "release", "dispose", "acquire",
  "borrow-end", "use", "g_object_ref", "g_object_unref", "run_dispose",
  "drop_wrapper_reference", "set_handle", "arm-failure", "to_string",
  "add_dependency",
};

/* Relative frequencies. */
static const guint op_weights[N_OPS] = {
  [OP_CREATE] = 6,
  [OP_ADD_REF] = 10,
  [OP_DECREMENT_REF] = 4,
  [OP_RELEASE] = 14,
  [OP_DISPOSE] = 4,
  [OP_ACQUIRE] = 6,
  [OP_BORROW_END] = 6,
  [OP_USE] = 4,
  [OP_GOBJECT_REF] = 4,
  [OP_GOBJECT_UNREF] = 7,
  [OP_RUN_DISPOSE] = 1,
  [OP_DROP_WRAPPER] = 3,
  [OP_SET_HANDLE] = 5,
  [OP_ARM_FAILURE] = 3,
  [OP_TO_STRING] = 1,
  [OP_ADD_DEPENDENCY] = 5,
};

typedef struct
{
  guint64 step;
  Op op;
  int slot;
  int arg;
  Kind kind;
  guint id;
} HistoryEntry;

typedef struct
{
  guint32 seed;
  guint64 step;
  GRand *rand;

  MHandle slots[N_SLOTS];
  guint next_id;
  MNative natives[MAX_NATIVES];
  int n_natives;

  /* per step */
  int expected_warnings;
  GPtrArray *to_release;    /* native references the test gives back after the step */
  int unexpected_frees;

  /* global expectations */
  int base_tn_live;
  guint base_handles;
  guint base_unreleased;
  int leaked_open;          /* handles finalized with a pointer not released */

  /* statistics */
  guint64 op_counts[N_OPS];
  guint64 kind_counts[N_KINDS];
  guint64 deferred_created;
  guint64 releases_done;
  guint64 failed_releases;
  guint64 leaks;
  guint64 set_errors[8];
  guint64 cascades;
  guint64 deps_added;
  guint64 deps_refused[16];
  guint64 deps_released;
  guint64 deps_kept_by_leak;

  HistoryEntry history[HISTORY];
} Model;

/* The freed callback finds the model here. */
static Model *current_model;

static void
model_dump_history (Model *m)
{
  guint64 first = m->step >= HISTORY ? m->step - HISTORY + 1 : 0;
  guint64 s;

  g_test_message ("seed %" G_GUINT32_FORMAT " (replay with RC_TEST_SEED=%" G_GUINT32_FORMAT
                  "), failing at step %" G_GUINT64_FORMAT "; the last steps:",
                  m->seed, m->seed, m->step);
  for (s = first; s <= m->step; s++)
    {
      HistoryEntry *e = &m->history[s % HISTORY];

      if (e->step != s)
        continue;
      g_test_message ("  step %" G_GUINT64_FORMAT ": %s slot %d (%s #%u) arg %d",
                      e->step, op_names[e->op], e->slot,
                      kind_names[e->kind], e->id, e->arg);
    }
  g_test_message ("the model now:");
  for (s = 0; s < N_SLOTS; s++)
    {
      MHandle *h = &m->slots[s];
      GString *deps;
      int i;

      if (!h->used)
        continue;
      deps = g_string_new (NULL);
      for (i = 0; i < h->n_deps; i++)
        g_string_append_printf (deps, " %d", h->deps[i]);
      g_test_message ("  slot %d (%s #%u): phase %d, count %d, ptr %p, test refs %d, owner refs %d, "
                      "wrapper dropped %d, dog slot %d, dependencies:%s%s",
                      (int) s, kind_names[h->kind], h->id, h->phase, h->count, h->ptr, h->test_refs,
                      h->owner_refs, h->wrapper_dropped, h->dog_slot, deps->str,
                      h->finalizing ? " (finalizing)" : "");
      g_string_free (deps, TRUE);
    }
}

G_GNUC_PRINTF (5, 6) static void
model_fail (Model      *m,
            const char *file,
            int         line,
            const char *func,
            const char *format,
            ...)
{
  va_list args;
  char *what;
  char *message;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);

  model_dump_history (m);
  message = g_strdup_printf ("seed %" G_GUINT32_FORMAT " step %" G_GUINT64_FORMAT ": %s",
                             m->seed, m->step, what);
  g_assertion_message (G_LOG_DOMAIN, file, line, func, message);
  g_free (message);
  g_free (what);
}

#define CHECK_INT(m, got, want, ...)                                          \
  G_STMT_START {                                                              \
    long long got_ = (long long) (got);                                       \
    long long want_ = (long long) (want);                                     \
    if (got_ != want_)                                                        \
      {                                                                       \
        char *what_ = g_strdup_printf (__VA_ARGS__);                          \
        model_fail ((m), __FILE__, __LINE__, G_STRFUNC,                       \
                    "%s: got %lld, expected %lld", what_, got_, want_);       \
        g_free (what_);                                                       \
      }                                                                       \
  } G_STMT_END

#define CHECK_PTR(m, got, want, ...)                                          \
  G_STMT_START {                                                              \
    gconstpointer gotp_ = (got);                                              \
    gconstpointer wantp_ = (want);                                            \
    if (gotp_ != wantp_)                                                      \
      {                                                                       \
        char *what_ = g_strdup_printf (__VA_ARGS__);                          \
        model_fail ((m), __FILE__, __LINE__, G_STRFUNC,                       \
                    "%s: got %p, expected %p", what_, gotp_, wantp_);         \
        g_free (what_);                                                       \
      }                                                                       \
  } G_STMT_END

/* --- native objects --- */

static MNative *
native_find (Model    *m,
             gpointer  ptr)
{
  int i;

  for (i = 0; i < m->n_natives; i++)
    {
      if (m->natives[i].ptr == ptr && !m->natives[i].dead)
        return &m->natives[i];
    }
  return NULL;
}

static MNative *
native_track (Model    *m,
              gpointer  ptr,
              int       kind)
{
  MNative *n;

  g_assert_nonnull (ptr);
  g_assert_null (native_find (m, ptr));
  g_assert_cmpint (m->n_natives, <, MAX_NATIVES);
  n = &m->natives[m->n_natives++];
  memset (n, 0, sizeof *n);
  n->ptr = ptr;
  n->kind = kind;
  n->refs = 1;
  return n;
}

static gpointer
native_new_dog (Model *m)
{
  gpointer dog = rc_tn_dog_new ("model");

  native_track (m, dog, RC_TN_KIND_DOG);
  return dog;
}

/* A native reference goes (in the model); an owner gives its dog back. */
static void
native_unref (Model    *m,
              gpointer  ptr)
{
  MNative *n = native_find (m, ptr);

  if (n == NULL)
    {
      model_fail (m, __FILE__, __LINE__, G_STRFUNC,
                  "model error: native %p is not tracked", ptr);
      return;
    }
  g_assert_cmpint (n->refs, >, 0);
  if (--n->refs == 0)
    {
      n->dead = TRUE;
      if (n->owner_dog != NULL)
        native_unref (m, n->owner_dog);
    }
}

/* A native reference the test gives back after the real operation. */
static void
native_release_later (Model    *m,
                      gpointer  ptr)
{
  native_unref (m, ptr);
  g_ptr_array_add (m->to_release, ptr);
}

static void
freed_callback (void *obj,
                int   kind,
                void *user_data)
{
  Model *m = current_model;
  int i;

  if (m == NULL)
    return;
  for (i = 0; i < m->n_natives; i++)
    {
      if (m->natives[i].ptr == obj && m->natives[i].dead)
        {
          m->natives[i].freed_seen++;
          return;
        }
    }
  m->unexpected_frees++;
}

/* --- handles: the contract, step by step --- */

static void model_release (Model *m, int s);
static void model_gobject_unref (Model *m, int s, gboolean by_owner);

static gboolean
is_open (const MHandle *h)
{
  return h->phase == PHASE_OPEN;
}

static void
model_add_ref (Model *m,
               int    s)
{
  MHandle *h = &m->slots[s];

  if (is_open (h))
    h->count++;
}

static void
model_decrement_ref (Model *m,
                     int    s)
{
  MHandle *h = &m->slots[s];

  if (is_open (h) && h->count > 0)
    h->count--;
}

/* release_handle runs: the count is 0, the phase open. */
static void
model_release_handle (Model *m,
                      int    s)
{
  MHandle *h = &m->slots[s];
  int dog_slot;

  h->release_calls++;
  switch (h->kind)
    {
    case KIND_FAIL:
      if (h->fail_next > 0)
        {
          /* kept: open, count 0, a warning; a later release retries */
          h->fail_next--;
          m->expected_warnings++;
          m->failed_releases++;
          return;
        }
      native_unref (m, h->ptr);
      break;

    case KIND_DEL_NATIVE:
    case KIND_DEL_FUNC:
      native_unref (m, h->ptr);
      if (h->kind == KIND_DEL_FUNC)
        h->notify_calls++;
      break;

    case KIND_OWNING:
      break;

    case KIND_OWNER:
      native_unref (m, h->ptr);
      dog_slot = h->dog_slot;
      h->dog_slot = -1;
      if (dog_slot >= 0)
        {
          m->cascades++;
          model_release (m, dog_slot);
          model_gobject_unref (m, dog_slot, TRUE);
        }
      break;

    case N_KINDS:
    default:
      g_assert_not_reached ();
    }

  h->release_ok++;
  h->phase = PHASE_RELEASED;
  h->count = 0;
  h->ptr = NULL;
  m->releases_done++;

  /* right after a successful release: each dependency released once, in
   * reverse order of addition, then its object dropped */
  if (h->n_deps > 0)
    {
      int deps[MAX_DEPS];
      int n = h->n_deps;
      int i;

      memcpy (deps, h->deps, sizeof deps);
      h->n_deps = 0;
      for (i = n - 1; i >= 0; i--)
        {
          m->deps_released++;
          model_release (m, deps[i]);
          model_gobject_unref (m, deps[i], TRUE);
        }
    }
}

static void
model_release (Model *m,
               int    s)
{
  MHandle *h = &m->slots[s];

  /* while its release_handle runs (a release reached through a cycle of
   * holds that passes through a subclass, such as ModelOwnerHandle's dog)
   * a release is a no-op */
  if (!is_open (h) || h->releasing)
    return;
  if (h->count > 1)
    {
      h->count--;
      return;
    }
  h->count = 0;
  h->releasing = TRUE;
  model_release_handle (m, s);
  h->releasing = FALSE;
}

/* Gives back the wrapper's own reference, once per object (even when the
 * handle had no pointer yet at that time). */
static gboolean
model_drop_wrapper (Model *m,
                    int    s)
{
  MHandle *h = &m->slots[s];

  if (h->wrapper_dropped)
    return FALSE;
  h->wrapper_dropped = TRUE;
  model_release (m, s);
  return TRUE;
}

static void
model_finalize (Model *m,
                int    s)
{
  MHandle *h = &m->slots[s];
  int dog_slot;

  h->finalizing = TRUE;
  if (is_open (h))
    {
      /* leaked on purpose: the count still holds references nobody will
       * give back; the test frees the native object itself */
      m->leaked_open++;
      m->leaks++;
      if (h->kind != KIND_OWNING)
        native_release_later (m, h->ptr);
    }
  if (h->kind == KIND_DEL_FUNC && h->notify_calls == 0)
    h->notify_calls = 1;
  if (h->kind == KIND_OWNING && h->owned_dog != NULL)
    {
      native_release_later (m, h->owned_dog);
      h->owned_dog = NULL;
    }
  if (h->kind == KIND_OWNER && h->dog_slot >= 0)
    {
      dog_slot = h->dog_slot;
      h->dog_slot = -1;
      model_gobject_unref (m, dog_slot, TRUE);
    }
  /* finalized unreleased: the dependencies keep the counts it holds (the
   * leaked resource still uses them), their objects are dropped */
  if (h->n_deps > 0)
    {
      int deps[MAX_DEPS];
      int n = h->n_deps;
      int i;

      g_assert_true (is_open (h));
      memcpy (deps, h->deps, sizeof deps);
      h->n_deps = 0;
      for (i = 0; i < n; i++)
        {
          m->deps_kept_by_leak++;
          model_gobject_unref (m, deps[i], TRUE);
        }
    }
}

static void
model_gobject_unref (Model    *m,
                     int       s,
                     gboolean  by_owner)
{
  MHandle *h = &m->slots[s];

  if (by_owner)
    h->owner_refs--;
  else
    h->test_refs--;
  g_assert_cmpint (h->owner_refs, >=, 0);
  g_assert_cmpint (h->test_refs, >=, 0);
  if (h->test_refs + h->owner_refs > 0)
    return;

  /* GObject dispose, then finalize */
  model_drop_wrapper (m, s);
  model_finalize (m, s);
}

/* ------------------------------------------------------------------------
 * Checks
 * ------------------------------------------------------------------------ */

/* get_dependencies () lists the model's dependencies, in order. */
static void
check_dependencies (Model *m,
                    int    s)
{
  MHandle *h = &m->slots[s];
  GPtrArray *deps = rc_native_handle_get_dependencies (h->handle);
  int i;

  if (deps == NULL)
    {
      model_fail (m, __FILE__, __LINE__, G_STRFUNC, "slot %d: get_dependencies returned NULL", s);
      return;
    }
  CHECK_INT (m, deps->len, h->n_deps, "slot %d (%s #%u) number of dependencies", s, kind_names[h->kind], h->id);
  for (i = 0; i < h->n_deps && i < (int) deps->len; i++)
    CHECK_PTR (m, g_ptr_array_index (deps, i), m->slots[h->deps[i]].handle,
               "slot %d (%s #%u) dependency %d", s, kind_names[h->kind], h->id, i);
  g_ptr_array_unref (deps);
}

static void
check_handle (Model *m,
              int    s)
{
  MHandle *h = &m->slots[s];
  Probe *p = &h->probe;
  RcNativeHandle *handle = h->handle;

  if (h->finalizing)
    {
      CHECK_INT (m, p->finalized, 1, "slot %d (%s #%u) finalized", s, kind_names[h->kind], h->id);
    }
  else
    {
      CHECK_INT (m, p->finalized, 0, "slot %d (%s #%u) finalized", s, kind_names[h->kind], h->id);
      CHECK_INT (m, g_atomic_int_get ((int *) &G_OBJECT (handle)->ref_count),
                 h->test_refs + h->owner_refs,
                 "slot %d (%s #%u) GObject ref_count", s, kind_names[h->kind], h->id);
      CHECK_INT (m, rc_native_handle_is_disposed (handle), !is_open (h),
                 "slot %d (%s #%u) is_disposed", s, kind_names[h->kind], h->id);
      CHECK_INT (m, rc_native_handle_is_invalid (handle), !is_open (h),
                 "slot %d (%s #%u) is_invalid", s, kind_names[h->kind], h->id);
      CHECK_PTR (m, rc_native_handle_get_handle (handle), h->ptr,
                 "slot %d (%s #%u) get_handle", s, kind_names[h->kind], h->id);
      CHECK_INT (m, rc_reference_counter_get_reference_count (RC_REFERENCE_COUNTER (handle)),
                 h->phase == PHASE_UNSET ? h->unset_count : h->count,
                 "slot %d (%s #%u) reference count", s, kind_names[h->kind], h->id);
      check_dependencies (m, s);
    }

  switch (h->kind)
    {
    case KIND_DEL_FUNC:
      CHECK_INT (m, p->notify_calls, h->notify_calls,
                 "slot %d (%s #%u) destroy notify calls", s, kind_names[h->kind], h->id);
      G_GNUC_FALLTHROUGH;
    case KIND_FAIL:
    case KIND_OWNER:
      CHECK_INT (m, p->release_calls, h->release_calls,
                 "slot %d (%s #%u) release_handle calls", s, kind_names[h->kind], h->id);
      CHECK_INT (m, p->release_ok, h->release_ok,
                 "slot %d (%s #%u) successful release_handle calls", s, kind_names[h->kind], h->id);
      CHECK_INT (m, p->release_ok, h->phase == PHASE_RELEASED ? 1 : 0,
                 "slot %d (%s #%u) released exactly once", s, kind_names[h->kind], h->id);
      CHECK_INT (m, p->wrong_pointer, 0,
                 "slot %d (%s #%u) release_handle saw a wrong pointer", s, kind_names[h->kind], h->id);
      break;

    case KIND_DEL_NATIVE:
    case KIND_OWNING:
      /* no probe in the release path: the native counts and the global
       * unreleased count tell */
      break;

    case N_KINDS:
    default:
      g_assert_not_reached ();
    }
}

static void
check_all (Model *m)
{
  int i;
  int alive_natives = 0;
  guint live_handles = 0;
  guint open_handles = 0;

  g_test_assert_expected_messages ();
  CHECK_INT (m, rc_tn_misuse_count (), 0, "native misuse count");
  CHECK_INT (m, m->unexpected_frees, 0, "native objects freed the model did not expect");

  for (i = 0; i < N_SLOTS; i++)
    {
      MHandle *h = &m->slots[i];

      if (!h->used)
        continue;
      check_handle (m, i);
      if (!h->finalizing)
        live_handles++;
      if (!h->finalizing && is_open (h))
        open_handles++;
    }

  for (i = 0; i < m->n_natives; i++)
    {
      MNative *n = &m->natives[i];

      if (n->dead)
        {
          /* checked in the step it died, before any address can be reused */
          CHECK_INT (m, n->freed_seen, 1, "native %p (kind %d) freed", n->ptr, n->kind);
          CHECK_INT (m, rc_tn_is_alive (n->ptr), 0, "native %p (kind %d) alive", n->ptr, n->kind);
        }
      else
        {
          alive_natives++;
          CHECK_INT (m, n->freed_seen, 0, "native %p (kind %d) freed", n->ptr, n->kind);
          CHECK_INT (m, rc_tn_is_alive (n->ptr), 1, "native %p (kind %d) alive", n->ptr, n->kind);
          CHECK_INT (m, rc_tn_get_ref_count (n->ptr), n->refs,
                     "native %p (kind %d) native reference count", n->ptr, n->kind);
          if (n->kind == RC_TN_KIND_OWNER)
            CHECK_PTR (m, rc_tn_owner_get_dog (n->ptr), n->owner_dog, "owner %p's dog", n->ptr);
        }
    }

  CHECK_INT (m, rc_tn_live_count (), m->base_tn_live + alive_natives, "native live count");
  CHECK_INT (m, rc_native_handle_get_live_count (), m->base_handles + live_handles,
             "rc_native_handle_get_live_count");
  CHECK_INT (m, rc_native_handle_get_unreleased_count (),
             m->base_unreleased + open_handles + (guint) m->leaked_open,
             "rc_native_handle_get_unreleased_count");
}

/* After the checks: forget the dead, free the slots of finalized handles. */
static void
end_step (Model *m)
{
  int i, j;

  for (i = 0, j = 0; i < m->n_natives; i++)
    {
      if (!m->natives[i].dead)
        m->natives[j++] = m->natives[i];
    }
  m->n_natives = j;

  for (i = 0; i < N_SLOTS; i++)
    {
      if (m->slots[i].finalizing)
        memset (&m->slots[i], 0, sizeof m->slots[i]);
    }
  m->expected_warnings = 0;
}

/* ------------------------------------------------------------------------
 * Operations: the model first (it predicts warnings and leaks), then the
 * real call, then what the test gives back by hand.
 * ------------------------------------------------------------------------ */

static void
expect_warnings (Model *m)
{
  int i;

  for (i = 0; i < m->expected_warnings; i++)
    g_test_expect_message (LOG_DOMAIN, G_LOG_LEVEL_WARNING, FAILED_RELEASE_MESSAGE);
}

static void
give_back_natives (Model *m)
{
  guint i;

  for (i = 0; i < m->to_release->len; i++)
    rc_tn_release (g_ptr_array_index (m->to_release, i));
  g_ptr_array_set_size (m->to_release, 0);
}

static int
random_prior (Model *m)
{
  /* mostly 0 (the common case), sometimes more */
  return g_rand_int_range (m->rand, 0, 4) == 0 ? g_rand_int_range (m->rand, 1, 3) : 0;
}

/* A slot whose handle the test may use, or -1. */
static int
pick_slot (Model    *m,
           gboolean  need_open_dog)
{
  int candidates[N_SLOTS];
  int n = 0;
  int i;

  for (i = 0; i < N_SLOTS; i++)
    {
      MHandle *h = &m->slots[i];

      if (!h->used || h->test_refs == 0)
        continue;
      if (need_open_dog && (h->kind == KIND_OWNER || !is_open (h)))
        continue;
      candidates[n++] = i;
    }
  return n == 0 ? -1 : candidates[g_rand_int_range (m->rand, 0, n)];
}

/* An open handle the test holds, or -1. */
static int
pick_open_slot (Model *m)
{
  int candidates[N_SLOTS];
  int n = 0;
  int i;

  for (i = 0; i < N_SLOTS; i++)
    {
      MHandle *h = &m->slots[i];

      if (h->used && h->test_refs > 0 && is_open (h))
        candidates[n++] = i;
    }
  return n == 0 ? -1 : candidates[g_rand_int_range (m->rand, 0, n)];
}

static int
free_slot (Model *m)
{
  int candidates[N_SLOTS];
  int n = 0;
  int i;

  for (i = 0; i < N_SLOTS; i++)
    {
      if (!m->slots[i].used)
        candidates[n++] = i;
    }
  return n == 0 ? -1 : candidates[g_rand_int_range (m->rand, 0, n)];
}

static void
slot_init (Model  *m,
           int     s,
           Kind    kind)
{
  MHandle *h = &m->slots[s];

  memset (h, 0, sizeof *h);
  h->used = TRUE;
  h->id = ++m->next_id;
  h->kind = kind;
  h->test_refs = 1;
  h->dog_slot = -1;
  m->kind_counts[kind]++;
}

/* The model of a handle constructed with @ptr (may be NULL) and @prior. */
static void
slot_constructed (Model    *m,
                  int       s,
                  gpointer  ptr,
                  int       prior)
{
  MHandle *h = &m->slots[s];

  g_assert_nonnull (h->handle);
  g_object_set_data_full (G_OBJECT (h->handle), "model-probe", &h->probe, probe_finalized);
  if (ptr != NULL)
    {
      h->phase = PHASE_OPEN;
      h->ptr = ptr;
      h->count = prior + 1;
    }
  else
    {
      h->phase = PHASE_UNSET;
      /* not part of the contract; it only must not change while unset */
      h->unset_count = rc_reference_counter_get_reference_count (RC_REFERENCE_COUNTER (h->handle));
      m->deferred_created++;
    }
}

static void
do_create (Model *m,
           int    s,
           Kind   kind,
           int    dog_slot,
           int    variant)
{
  MHandle *h = &m->slots[s];
  gboolean deferred = kind != KIND_OWNER && variant % 3 == 0;
  gpointer dog = NULL;
  int prior = 0;

  slot_init (m, s, kind);
  if (!deferred && kind != KIND_OWNER)
    dog = native_new_dog (m);
  h->probe.expected = dog;

  switch (kind)
    {
    case KIND_DEL_NATIVE:
      h->handle = RC_NATIVE_HANDLE (rc_deletable_native_handle_new_native (dog, (gpointer) rc_tn_release,
                                                                          variant % 2 ? "DOG_PTR" : NULL));
      break;

    case KIND_DEL_FUNC:
      h->handle = RC_NATIVE_HANDLE (rc_deletable_native_handle_new (dog, probe_release_func, &h->probe,
                                                                   probe_notify, "DOG_PTR"));
      break;

    case KIND_FAIL:
      prior = random_prior (m);
      h->handle = g_object_new (MODEL_TYPE_FAIL_HANDLE,
                                "handle", dog,
                                "prior-ref-count", prior,
                                "type-id", "DOG_PTR",
                                NULL);
      MODEL_FAIL_HANDLE (h->handle)->probe = &h->probe;
      break;

    case KIND_OWNING:
      prior = random_prior (m);
      h->owned_dog = dog;
      h->handle = g_object_new (RC_TYPE_OWNING_NATIVE_HANDLE,
                                "handle", dog,
                                "prior-ref-count", prior,
                                NULL);
      break;

    case KIND_OWNER:
      {
        MHandle *d = &m->slots[dog_slot];
        gpointer owner;
        MNative *n;

        g_assert_true (is_open (d));
        owner = rc_tn_owner_new (d->ptr);
        n = native_track (m, owner, RC_TN_KIND_OWNER);
        n->owner_dog = d->ptr;
        native_find (m, d->ptr)->refs++;
        h->probe.expected = owner;
        h->dog_slot = dog_slot;

        /* the owner handle holds the dog handle: GObject + counted */
        d->owner_refs++;
        model_add_ref (m, dog_slot);
        prior = random_prior (m);
        h->handle = g_object_new (MODEL_TYPE_OWNER_HANDLE,
                                  "handle", owner,
                                  "prior-ref-count", prior,
                                  "type-id", "OWNER_PTR",
                                  NULL);
        MODEL_OWNER_HANDLE (h->handle)->probe = &h->probe;
        MODEL_OWNER_HANDLE (h->handle)->dog = g_object_ref (d->handle);
        rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (d->handle));
        dog = owner;
      }
      break;

    case N_KINDS:
    default:
      g_assert_not_reached ();
    }

  slot_constructed (m, s, dog, prior);
}

static void
do_set_handle (Model *m,
               int    s,
               int    variant)
{
  static int not_native;
  MHandle *h = &m->slots[s];
  GError *error = NULL;
  gpointer ptr;
  int prior = 0;
  int want = -1;      /* expected RcError, or -1 for success */
  gboolean ok;

  /* One error at a time (the contract does not order them): apart from the
   * error tried, the pointer is a fresh live dog and the prior count valid.
   * A refused dog must come back untouched; the test then frees it. */
  if (h->phase == PHASE_UNSET && variant % 8 == 0)
    {
      ptr = NULL;
      want = RC_ERROR_INVALID_HANDLE;
    }
  else if (h->phase == PHASE_UNSET && variant % 8 == 3 && h->kind == KIND_FAIL)
    {
      /* a pointer ModelFailHandle.is_valid_handle rejects */
      ptr = &not_native;
      want = RC_ERROR_INVALID_HANDLE;
    }
  else
    {
      ptr = native_new_dog (m);
      if (h->phase != PHASE_UNSET)
        want = is_open (h) ? RC_ERROR_HANDLE_ALREADY_SET : RC_ERROR_DISPOSED;
      else if (variant % 8 == 1)
        {
          prior = -1;
          want = RC_ERROR_INVALID_ARGUMENT;
        }
      else if (variant % 8 == 2)
        {
          prior = PRIOR_OUT_OF_RANGE;
          want = RC_ERROR_INVALID_ARGUMENT;
        }
      else
        prior = random_prior (m);
    }

  if (want < 0)
    {
      h->phase = PHASE_OPEN;
      h->ptr = ptr;
      h->count = prior + 1;
      h->probe.expected = ptr;
      if (h->kind == KIND_OWNING)
        h->owned_dog = ptr;
    }

  ok = rc_native_handle_set_handle (h->handle, ptr, prior, &error);
  if (want < 0)
    {
      if (error != NULL)
        model_fail (m, __FILE__, __LINE__, G_STRFUNC, "set_handle failed: %s", error->message);
      CHECK_INT (m, ok, TRUE, "set_handle result");
    }
  else
    {
      CHECK_INT (m, ok, FALSE, "set_handle result");
      if (error == NULL || error->domain != RC_ERROR)
        model_fail (m, __FILE__, __LINE__, G_STRFUNC, "set_handle: no RC_ERROR");
      else
        CHECK_INT (m, error->code, want, "set_handle error code (%s)", error->message);
      m->set_errors[want]++;
      if (ptr != NULL && ptr != &not_native)
        native_release_later (m, ptr);
    }
  g_clear_error (&error);
}

static void
do_acquire (Model    *m,
            int       s,
            gboolean  keep)
{
  MHandle *h = &m->slots[s];
  GError *error = NULL;
  gboolean open = is_open (h);
  gpointer ptr;

  if (open)
    {
      h->count++;
      if (keep)
        h->borrows++;
    }

  ptr = rc_native_handle_acquire (h->handle, &error);
  if (open)
    {
      CHECK_PTR (m, ptr, h->ptr, "acquire");
      if (error != NULL)
        model_fail (m, __FILE__, __LINE__, G_STRFUNC, "acquire failed: %s", error->message);
    }
  else
    {
      CHECK_PTR (m, ptr, NULL, "acquire of a disposed handle");
      if (error == NULL || error->domain != RC_ERROR)
        model_fail (m, __FILE__, __LINE__, G_STRFUNC, "acquire: no RC_ERROR");
      else
        CHECK_INT (m, error->code, RC_ERROR_DISPOSED, "acquire error code");
    }
  g_clear_error (&error);

  if (open && !keep)
    {
      /* use the borrowed pointer, then give it back */
      if (h->kind == KIND_OWNER)
        CHECK_INT (m, rc_tn_owner_walk (ptr) > 0, TRUE, "walk the owner's dog");
      else
        CHECK_INT (m, rc_tn_dog_get_name (ptr) != NULL, TRUE, "the dog's name");
      model_release (m, s);
      expect_warnings (m);
      rc_native_handle_release (h->handle);
    }
}

/* Whether the handle in slot @from depends on the one in slot @to,
 * directly or through others. */
static gboolean
depends_on (Model *m,
            int    from,
            int    to)
{
  MHandle *h = &m->slots[from];
  int i;

  for (i = 0; i < h->n_deps; i++)
    {
      if (h->deps[i] == to || depends_on (m, h->deps[i], to))
        return TRUE;
    }
  return FALSE;
}

/* Whether the handle in slot @from holds the one in slot @to, through
 * dependencies or a ModelOwnerHandle's dog, directly or through others. */
static gboolean
holds (Model *m,
       int    from,
       int    to)
{
  MHandle *h = &m->slots[from];
  int i;

  if (h->dog_slot >= 0 && (h->dog_slot == to || holds (m, h->dog_slot, to)))
    return TRUE;
  for (i = 0; i < h->n_deps; i++)
    {
      if (h->deps[i] == to || holds (m, h->deps[i], to))
        return TRUE;
    }
  return FALSE;
}

/* Returns the slot of the dependency tried. */
static int
do_add_dependency (Model *m,
                   int    s,
                   int    arg)
{
  MHandle *h = &m->slots[s];
  int candidates[N_SLOTS];
  int n = 0;
  int t, i;
  MHandle *d;
  gboolean cycle, disposed;
  GError *error = NULL;
  gboolean ok;

  /* the dependency: mostly an open handle, else any live one, this one
   * included (a cycle) */
  for (i = 0; i < N_SLOTS; i++)
    {
      if (m->slots[i].used && !m->slots[i].finalizing && (arg % 4 == 0 || (is_open (&m->slots[i]) && i != s)))
        candidates[n++] = i;
    }
  if (n == 0)
    {
      for (i = 0; i < N_SLOTS; i++)
        {
          if (m->slots[i].used && !m->slots[i].finalizing)
            candidates[n++] = i;
        }
    }
  g_assert_cmpint (n, >, 0);
  t = candidates[(arg / 4) % n];
  d = &m->slots[t];
  if (h->n_deps >= MAX_DEPS || (is_open (d) && d->count >= MAX_COUNT) ||
      (holds (m, t, s) && !depends_on (m, t, s)))
    {
      /* full, or a cycle through a subclass's own hold, which the library
       * cannot see (a leak by design, the caller's to avoid): a refused
       * one instead */
      t = s;
      d = h;
    }

  /* what applies (the contract does not order the errors) */
  cycle = t == s || depends_on (m, t, s);
  disposed = !is_open (h) || !is_open (d);

  if (!cycle && !disposed)
    {
      h->deps[h->n_deps++] = t;
      model_add_ref (m, t);
      d->owner_refs++;
      m->deps_added++;
    }
  /* a refused one changes nothing, not even a dependency open at count 0
   * (after a raw decrement_ref or a failed release) */
  expect_warnings (m);

  ok = rc_native_handle_add_dependency (h->handle, d->handle, &error);
  if (!cycle && !disposed)
    {
      if (error != NULL)
        model_fail (m, __FILE__, __LINE__, G_STRFUNC, "add_dependency failed: %s", error->message);
      CHECK_INT (m, ok, TRUE, "add_dependency (slot %d, slot %d) result", s, t);
    }
  else
    {
      CHECK_INT (m, ok, FALSE, "add_dependency (slot %d, slot %d) result", s, t);
      if (error == NULL || error->domain != RC_ERROR)
        model_fail (m, __FILE__, __LINE__, G_STRFUNC, "add_dependency: no RC_ERROR");
      else
        {
          gboolean expected = (cycle && error->code == RC_ERROR_CYCLE) ||
                              (disposed && error->code == RC_ERROR_DISPOSED);

          if (!expected)
            model_fail (m, __FILE__, __LINE__, G_STRFUNC,
                        "add_dependency (slot %d, slot %d): error %d (%s), expected%s%s", s, t,
                        error->code, error->message, cycle ? " RC_ERROR_CYCLE" : "",
                        disposed ? " RC_ERROR_DISPOSED" : "");
          else
            m->deps_refused[error->code]++;
        }
    }
  g_clear_error (&error);
  return t;
}

/* One random step. */
static void
model_step (Model *m)
{
  guint total = 0;
  guint pick;
  int op;
  int s;
  int arg = g_rand_int_range (m->rand, 0, 1 << 16);
  MHandle *h;
  HistoryEntry *e;

  for (op = 0; op < N_OPS; op++)
    total += op_weights[op];
  pick = (guint) g_rand_int_range (m->rand, 0, (gint32) total);
  for (op = 0; pick >= op_weights[op]; op++)
    pick -= op_weights[op];

  s = op == OP_CREATE ? free_slot (m) : pick_slot (m, FALSE);
  if (s < 0)
    {
      /* nothing to create into, or nothing to operate on */
      op = op == OP_CREATE ? OP_RELEASE : OP_CREATE;
      s = op == OP_CREATE ? free_slot (m) : pick_slot (m, FALSE);
    }
  g_assert_cmpint (s, >=, 0);
  h = &m->slots[s];

  e = &m->history[m->step % HISTORY];
  e->step = m->step;
  e->op = op;
  e->slot = s;
  e->arg = arg;
  e->kind = h->kind;
  e->id = h->id;
  m->op_counts[op]++;

  switch ((Op) op)
    {
    case OP_CREATE:
      {
        Kind kind = (Kind) (arg % N_KINDS);
        int dog_slot = -1;

        if (kind == KIND_OWNER)
          {
            dog_slot = pick_slot (m, TRUE);
            if (dog_slot < 0)
              kind = KIND_DEL_NATIVE;
          }
        do_create (m, s, kind, dog_slot, arg / N_KINDS);
        e->kind = h->kind;
        e->id = h->id;
      }
      break;

    case OP_ADD_REF:
      if (h->count >= MAX_COUNT)
        {
          e->op = OP_RELEASE;
          model_release (m, s);
          expect_warnings (m);
          rc_native_handle_release (h->handle);
          break;
        }
      model_add_ref (m, s);
      rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (h->handle));
      break;

    case OP_DECREMENT_REF:
      model_decrement_ref (m, s);
      rc_reference_counter_decrement_ref (RC_REFERENCE_COUNTER (h->handle));
      break;

    case OP_RELEASE:
      model_release (m, s);
      expect_warnings (m);
      rc_native_handle_release (h->handle);
      break;

    case OP_DISPOSE:
      model_release (m, s);
      expect_warnings (m);
      rc_native_handle_dispose (h->handle);
      break;

    case OP_ACQUIRE:
      if (h->count >= MAX_COUNT)
        {
          e->op = OP_BORROW_END;
          goto borrow_end;
        }
      do_acquire (m, s, TRUE);
      break;

    case OP_BORROW_END:
    borrow_end:
      if (h->borrows > 0)
        h->borrows--;
      /* with no borrow left this is one more release, as harmless */
      model_release (m, s);
      expect_warnings (m);
      rc_native_handle_release (h->handle);
      break;

    case OP_USE:
      do_acquire (m, s, FALSE);
      break;

    case OP_GOBJECT_REF:
      if (h->test_refs >= 3)
        {
          e->op = OP_GOBJECT_UNREF;
          goto gobject_unref;
        }
      h->test_refs++;
      g_object_ref (h->handle);
      break;

    case OP_GOBJECT_UNREF:
    gobject_unref:
      model_gobject_unref (m, s, FALSE);
      expect_warnings (m);
      g_object_unref (h->handle);
      break;

    case OP_RUN_DISPOSE:
      model_drop_wrapper (m, s);
      expect_warnings (m);
      g_object_run_dispose (G_OBJECT (h->handle));
      break;

    case OP_DROP_WRAPPER:
      {
        gboolean want = model_drop_wrapper (m, s);

        expect_warnings (m);
        CHECK_INT (m, rc_native_handle_drop_wrapper_reference (h->handle), want,
                   "drop_wrapper_reference result");
      }
      break;

    case OP_SET_HANDLE:
      do_set_handle (m, s, arg);
      break;

    case OP_ARM_FAILURE:
      if (h->kind == KIND_FAIL)
        {
          h->fail_next = 1 + arg % 2;
          h->probe.fail_next = h->fail_next;
        }
      break;

    case OP_TO_STRING:
      {
        char *str = rc_native_handle_to_string (h->handle);

        CHECK_INT (m, g_str_has_suffix (str, " (disposed)"), !is_open (h), "to_string \"%s\"", str);
        g_free (str);
      }
      break;

    case OP_ADD_DEPENDENCY:
      {
        /* mostly an open owner (a released or unset one is refused) */
        int open_slot = arg % 8 != 0 ? pick_open_slot (m) : -1;

        if (open_slot >= 0)
          {
            s = open_slot;
            h = &m->slots[s];
            e->slot = s;
            e->kind = h->kind;
            e->id = h->id;
          }
        /* the history shows the dependency's slot */
        e->arg = do_add_dependency (m, s, arg);
      }
      break;

    case N_OPS:
    default:
      g_assert_not_reached ();
    }

  give_back_natives (m);
  check_all (m);
  end_step (m);
}

static void
model_init (Model   *m,
            guint32  seed)
{
  memset (m, 0, sizeof *m);
  m->seed = seed;
  m->rand = g_rand_new_with_seed (seed);
  m->to_release = g_ptr_array_new ();
  rc_tn_reset_misuse_count ();
  m->base_tn_live = rc_tn_live_count ();
  m->base_handles = rc_native_handle_get_live_count ();
  m->base_unreleased = rc_native_handle_get_unreleased_count ();
  current_model = m;
  rc_tn_set_freed_callback (freed_callback, NULL);
}

/* Releases everything: every handle the test holds is released until its
 * release succeeds, then its GObject references dropped. */
static void
model_finish (Model *m)
{
  gboolean any = TRUE;
  int s;

  m->step++;
  while (any)
    {
      any = FALSE;
      for (s = 0; s < N_SLOTS; s++)
        {
          MHandle *h = &m->slots[s];

          if (!h->used || h->test_refs == 0)
            {
              any = any || h->used;
              continue;
            }
          any = TRUE;
          h->fail_next = 0;
          h->probe.fail_next = 0;
          while (is_open (h))
            {
              model_release (m, s);
              expect_warnings (m);
              rc_native_handle_release (h->handle);
              give_back_natives (m);
              check_all (m);
              end_step (m);
            }
          while (h->used && !h->finalizing && h->test_refs > 0)
            {
              model_gobject_unref (m, s, FALSE);
              expect_warnings (m);
              g_object_unref (h->handle);
              give_back_natives (m);
              check_all (m);
              end_step (m);
            }
        }
    }

  rc_tn_set_freed_callback (NULL, NULL);
  current_model = NULL;
  g_assert_cmpint (m->n_natives, ==, 0);
  g_assert_cmpint (rc_tn_live_count (), ==, m->base_tn_live);
  g_assert_cmpuint (rc_native_handle_get_live_count (), ==, m->base_handles);
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==,
                    m->base_unreleased + (guint) m->leaked_open);
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);
  g_ptr_array_unref (m->to_release);
  g_rand_free (m->rand);
}

static void
test_random_sequence (void)
{
  Model *m = g_new0 (Model, 1);
  guint32 seed = base_seed ();
  guint64 steps = n_steps ();
  GString *summary = g_string_new (NULL);
  int i;

  g_test_message ("seed %" G_GUINT32_FORMAT " (RC_TEST_SEED=%" G_GUINT32_FORMAT " replays it), "
                  "%" G_GUINT64_FORMAT " steps%s",
                  seed, seed, steps, quick_mode () ? " (RC_TEST_QUICK)" : "");

  model_init (m, seed);
  for (m->step = 0; m->step < steps; m->step++)
    model_step (m);
  model_finish (m);

  for (i = 0; i < N_OPS; i++)
    g_string_append_printf (summary, " %s=%" G_GUINT64_FORMAT, op_names[i], m->op_counts[i]);
  g_test_message ("operations:%s", summary->str);
  g_string_truncate (summary, 0);
  for (i = 0; i < N_KINDS; i++)
    g_string_append_printf (summary, " %s=%" G_GUINT64_FORMAT, kind_names[i], m->kind_counts[i]);
  g_test_message ("handles created:%s (created empty: %" G_GUINT64_FORMAT ")",
                  summary->str, m->deferred_created);
  g_test_message ("native releases %" G_GUINT64_FORMAT ", failed releases %" G_GUINT64_FORMAT
                  ", owner->dog cascades %" G_GUINT64_FORMAT ", handles leaked on purpose %" G_GUINT64_FORMAT
                  "; set_handle errors: invalid-argument=%" G_GUINT64_FORMAT " invalid-handle=%" G_GUINT64_FORMAT
                  " disposed=%" G_GUINT64_FORMAT " already-set=%" G_GUINT64_FORMAT,
                  m->releases_done, m->failed_releases, m->cascades, m->leaks,
                  m->set_errors[RC_ERROR_INVALID_ARGUMENT], m->set_errors[RC_ERROR_INVALID_HANDLE],
                  m->set_errors[RC_ERROR_DISPOSED], m->set_errors[RC_ERROR_HANDLE_ALREADY_SET]);
  g_test_message ("dependencies: added %" G_GUINT64_FORMAT ", released by their owner %" G_GUINT64_FORMAT
                  ", kept by a leaked owner %" G_GUINT64_FORMAT ", refused as cycles %" G_GUINT64_FORMAT
                  ", refused as disposed %" G_GUINT64_FORMAT,
                  m->deps_added, m->deps_released, m->deps_kept_by_leak,
                  m->deps_refused[RC_ERROR_CYCLE], m->deps_refused[RC_ERROR_DISPOSED]);
  g_string_free (summary, TRUE);
  g_free (m);
}

int
main (int   argc,
      char *argv[])
{
  /* leak warnings would be fatal: the leaks here are on purpose */
  g_setenv ("RC_DEBUG", "", TRUE);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/model/random-sequence", test_random_sequence);

  return g_test_run ();
}
