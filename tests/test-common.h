/* test-common.h: the native ground truth shared by the handle suites
 *
 * SPDX-License-Identifier: MIT
 *
 * A State records the test native library's counts and refcount's own
 * counters at the start of a test; state_assert_clean() then checks that
 * everything created since is gone and nothing was misused.
 */

#pragma once

#include <refcount/refcount.h>

#include "rc-test-native.h"

/* RC_TEST_QUICK=1 (set under valgrind): fewer rounds, the same checks. */
static inline gboolean
quick_mode (void)
{
  return g_strcmp0 (g_getenv ("RC_TEST_QUICK"), "1") == 0;
}

static inline guint
scaled (guint n)
{
  return quick_mode () ? MAX (n / 10, 1) : n;
}

typedef struct
{
  int live;
  int dogs;
  int owners;
  long created;
  long freed;
  guint handles;
  guint unreleased;
} State;

static inline void
state_begin (State *state)
{
  rc_tn_reset_misuse_count ();
  state->live = rc_tn_live_count ();
  state->dogs = rc_tn_dog_live_count ();
  state->owners = rc_tn_owner_live_count ();
  state->created = rc_tn_created_count ();
  state->freed = rc_tn_freed_count ();
  state->handles = rc_native_handle_get_live_count ();
  state->unreleased = rc_native_handle_get_unreleased_count ();
}

/* Everything created since state_begin() is gone, nothing was misused. */
static inline void
state_assert_clean (const State *state)
{
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);
  g_assert_cmpint (rc_tn_live_count (), ==, state->live);
  g_assert_cmpint (rc_tn_dog_live_count (), ==, state->dogs);
  g_assert_cmpint (rc_tn_owner_live_count (), ==, state->owners);
  g_assert_cmpint (rc_tn_freed_count () - state->freed, ==,
                   rc_tn_created_count () - state->created);
  g_assert_cmpuint (rc_native_handle_get_live_count (), ==, state->handles);
}

/* state_assert_clean(), and every native pointer set since was released. */
static inline void
state_assert_all_released (const State *state)
{
  state_assert_clean (state);
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state->unreleased);
}

static inline int
count_of (gpointer handle)
{
  return rc_reference_counter_get_reference_count (RC_REFERENCE_COUNTER (handle));
}

/* Counts the native frees of up to two watched objects, and their order,
 * through the test library's freed callback (rc_tn_set_freed_callback()). */
typedef struct
{
  gpointer watched[2];
  int freed[2];
  int order[4];
  int n_order;
} FreedLog;

static inline void
freed_cb (void *obj,
          int   kind,
          void *user_data)
{
  FreedLog *log = user_data;
  int i;

  for (i = 0; i < 2; i++)
    {
      if (obj == log->watched[i])
        {
          log->freed[i]++;
          if (log->n_order < (int) G_N_ELEMENTS (log->order))
            log->order[log->n_order++] = i;
        }
    }
}

/* The five properties of a handle, read through GObject, are these. */
static inline void
assert_handle_properties (gpointer    h,
                          gpointer    expected_handle,
                          const char *expected_type_id,
                          int         expected_count,
                          int         expected_prior,
                          gboolean    expected_disposed)
{
  gpointer handle = NULL;
  char *type_id = NULL;
  int count = -1;
  int prior = -1;
  gboolean disposed = !expected_disposed;

  g_object_get (h,
                "handle", &handle,
                "type-id", &type_id,
                "reference-count", &count,
                "prior-ref-count", &prior,
                "disposed", &disposed,
                NULL);
  g_assert_true (handle == expected_handle);
  g_assert_cmpstr (type_id, ==, expected_type_id);
  g_assert_cmpint (count, ==, expected_count);
  g_assert_cmpint (prior, ==, expected_prior);
  g_assert_cmpint (disposed, ==, expected_disposed);
  g_free (type_id);
}
