/* test-native-handle.c: RcNativeHandle through small C subclasses
 *
 * SPDX-License-Identifier: MIT
 *
 * TestDogHandle wraps a pointer of the native test library and releases it
 * with rc_tn_release(); it counts its release_handle calls and can be told to
 * fail.  TestBareHandle overrides nothing, to test the default vfuncs of the
 * abstract class.  Every lifetime test checks the native ground truth (live
 * counts, native reference counts, misuse count) as well as our counters.
 */

#include <refcount/refcount.h>

#include <string.h>

#include "rc-test-native.h"
#include "test-common.h"

#define DOG_TYPE_ID "DOG_PTR"
#define THREADS 8

/* ---------------------------------------------------------------------- */
/* TestDogHandle                                                          */

#define TEST_TYPE_DOG_HANDLE (test_dog_handle_get_type ())
G_DECLARE_FINAL_TYPE (TestDogHandle, test_dog_handle, TEST, DOG_HANDLE, RcNativeHandle)

struct _TestDogHandle
{
  RcNativeHandle parent_instance;

  int fail;             /* release_handle returns FALSE while set */
  int release_calls;    /* release_handle calls on this instance */
  int count_seen;       /* reference count seen inside release_handle */
  gpointer handle_seen; /* pointer seen inside release_handle */
  int reenter;          /* call more public API from inside release_handle */
  char *string_seen;    /* to_string() from inside release_handle */
};

G_DEFINE_FINAL_TYPE (TestDogHandle, test_dog_handle, RC_TYPE_NATIVE_HANDLE)

/* All release_handle calls of all TestDogHandles, for objects already gone. */
static int total_release_calls;

static gboolean
test_dog_handle_release_handle (RcNativeHandle *handle)
{
  TestDogHandle *self = TEST_DOG_HANDLE (handle);
  gpointer ptr = rc_native_handle_get_handle (handle);

  g_atomic_int_inc (&self->release_calls);
  g_atomic_int_inc (&total_release_calls);
  self->count_seen = rc_reference_counter_get_reference_count (RC_REFERENCE_COUNTER (handle));
  self->handle_seen = ptr;

  if (self->reenter)
    {
      /* release_handle runs outside any lock: the public API must be
       * usable from here without a deadlock. */
      g_free (self->string_seen);
      self->string_seen = rc_native_handle_to_string (handle);
      (void) rc_native_handle_is_disposed (handle);
      (void) rc_native_handle_is_invalid (handle);
      (void) rc_native_handle_get_type_id (handle);
      g_object_get (handle, "reference-count", &self->count_seen, NULL);
    }

  if (g_atomic_int_get (&self->fail))
    return FALSE;

  rc_tn_release (ptr);
  return TRUE;
}

static gboolean
test_dog_handle_is_valid_handle (RcNativeHandle *handle,
                                 gpointer        ptr)
{
  return rc_tn_is_alive (ptr) != 0;
}

static void
test_dog_handle_finalize (GObject *object)
{
  TestDogHandle *self = TEST_DOG_HANDLE (object);

  g_clear_pointer (&self->string_seen, g_free);
  G_OBJECT_CLASS (test_dog_handle_parent_class)->finalize (object);
}

static void
test_dog_handle_class_init (TestDogHandleClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  RcNativeHandleClass *handle_class = RC_NATIVE_HANDLE_CLASS (klass);

  object_class->finalize = test_dog_handle_finalize;
  handle_class->release_handle = test_dog_handle_release_handle;
  handle_class->is_valid_handle = test_dog_handle_is_valid_handle;
}

static void
test_dog_handle_init (TestDogHandle *self)
{
}

static TestDogHandle *
dog_handle_new (gpointer    ptr,
                int         prior,
                const char *type_id)
{
  return g_object_new (TEST_TYPE_DOG_HANDLE,
                       "handle", ptr,
                       "prior-ref-count", prior,
                       "type-id", type_id,
                       NULL);
}

/* ---------------------------------------------------------------------- */
/* TestBareHandle: no overrides, the defaults of the abstract class.       */

#define TEST_TYPE_BARE_HANDLE (test_bare_handle_get_type ())
G_DECLARE_FINAL_TYPE (TestBareHandle, test_bare_handle, TEST, BARE_HANDLE, RcNativeHandle)

struct _TestBareHandle
{
  RcNativeHandle parent_instance;
};

G_DEFINE_FINAL_TYPE (TestBareHandle, test_bare_handle, RC_TYPE_NATIVE_HANDLE)

static void
test_bare_handle_class_init (TestBareHandleClass *klass)
{
}

static void
test_bare_handle_init (TestBareHandle *self)
{
}

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */

/* state_begin() (test-common.h), and the release-call tally. */
static void
dog_state_begin (State *state)
{
  state_begin (state);
  g_atomic_int_set (&total_release_calls, 0);
}

static void
expect_assertion (void)
{
  g_test_expect_message ("Refcount", G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
}

static void
expect_release_failure (void)
{
  g_test_expect_message ("Refcount", G_LOG_LEVEL_WARNING, "*Failed to release native handle*");
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                  */

static void
test_type (void)
{
  GObjectClass *klass;
  GParamSpec *pspec;

  g_assert_true (G_TYPE_IS_ABSTRACT (RC_TYPE_NATIVE_HANDLE));
  g_assert_true (G_TYPE_IS_DERIVABLE (RC_TYPE_NATIVE_HANDLE));
  g_assert_true (g_type_parent (RC_TYPE_NATIVE_HANDLE) == RC_TYPE_REFERENCE_COUNTER);
  g_assert_cmpstr (g_type_name (RC_TYPE_NATIVE_HANDLE), ==, "RcNativeHandle");

  klass = g_type_class_ref (TEST_TYPE_DOG_HANDLE);

  pspec = g_object_class_find_property (klass, "handle");
  g_assert_nonnull (pspec);
  g_assert_true (G_IS_PARAM_SPEC_POINTER (pspec));
  g_assert_true (pspec->flags & G_PARAM_READABLE);
  g_assert_true (pspec->flags & G_PARAM_WRITABLE);
  g_assert_true (pspec->flags & G_PARAM_CONSTRUCT_ONLY);

  pspec = g_object_class_find_property (klass, "type-id");
  g_assert_nonnull (pspec);
  g_assert_true (G_IS_PARAM_SPEC_STRING (pspec));
  g_assert_true (pspec->flags & G_PARAM_READABLE);
  g_assert_true (pspec->flags & G_PARAM_CONSTRUCT_ONLY);
  g_assert_null (G_PARAM_SPEC_STRING (pspec)->default_value);

  pspec = g_object_class_find_property (klass, "disposed");
  g_assert_nonnull (pspec);
  g_assert_true (G_IS_PARAM_SPEC_BOOLEAN (pspec));
  g_assert_true (pspec->flags & G_PARAM_READABLE);
  g_assert_false (pspec->flags & G_PARAM_WRITABLE);

  pspec = g_object_class_find_property (klass, "reference-count");
  g_assert_nonnull (pspec);
  g_assert_false (pspec->flags & G_PARAM_WRITABLE);

  pspec = g_object_class_find_property (klass, "prior-ref-count");
  g_assert_nonnull (pspec);
  g_assert_true (pspec->flags & G_PARAM_CONSTRUCT_ONLY);

  g_type_class_unref (klass);
}

static void
test_new (void)
{
  State state;
  TestDogHandle *h;
  gpointer dog;

  dog_state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  h = dog_handle_new (dog, 0, DOG_TYPE_ID);

  g_assert_true (RC_IS_NATIVE_HANDLE (h));
  g_assert_true (RC_IS_REFERENCE_COUNTER (h));
  g_assert_cmpint (count_of (h), ==, 1);
  g_assert_true (rc_native_handle_get_handle (RC_NATIVE_HANDLE (h)) == dog);
  g_assert_cmpstr (rc_native_handle_get_type_id (RC_NATIVE_HANDLE (h)), ==, DOG_TYPE_ID);
  g_assert_false (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (h)));
  g_assert_false (rc_native_handle_is_invalid (RC_NATIVE_HANDLE (h)));
  g_assert_cmpuint (rc_native_handle_get_live_count (), ==, state.handles + 1);
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased + 1);

  /* Wrapping takes no native reference of its own. */
  g_assert_cmpint (rc_tn_get_ref_count (dog), ==, 1);
  g_assert_cmpint (rc_tn_dog_live_count (), ==, state.dogs + 1);
  g_assert_cmpint (h->release_calls, ==, 0);

  g_object_unref (h);
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_cmpint (total_release_calls, ==, 1);
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased);
  state_assert_clean (&state);
}

static void
test_new_prior (void)
{
  State state;
  TestDogHandle *h;
  gpointer dog;

  dog_state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  h = dog_handle_new (dog, 3, DOG_TYPE_ID);
  g_assert_cmpint (count_of (h), ==, 4);

  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  g_assert_cmpint (count_of (h), ==, 1);
  g_assert_cmpint (h->release_calls, ==, 0);
  g_assert_true (rc_tn_is_alive (dog));
  g_assert_cmpint (rc_tn_get_ref_count (dog), ==, 1);

  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  g_assert_cmpint (count_of (h), ==, 0);
  g_assert_cmpint (h->release_calls, ==, 1);
  g_assert_false (rc_tn_is_alive (dog));

  g_object_unref (h);
  g_assert_cmpint (total_release_calls, ==, 1);
  state_assert_clean (&state);
}

static void
test_properties (void)
{
  State state;
  TestDogHandle *h;
  gpointer dog;
  gpointer handle = NULL;
  char *type_id = NULL;
  int count = -1;
  int prior = -1;
  gboolean disposed = TRUE;

  dog_state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  h = dog_handle_new (dog, 2, DOG_TYPE_ID);

  assert_handle_properties (h, dog, DOG_TYPE_ID, 3, 2, FALSE);

  rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (h));
  g_object_get (h, "reference-count", &count, NULL);
  g_assert_cmpint (count, ==, 4);

  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  g_assert_false (rc_tn_is_alive (dog));

  g_object_get (h,
                "handle", &handle,
                "type-id", &type_id,
                "reference-count", &count,
                "disposed", &disposed,
                NULL);
  g_assert_null (handle);
  g_assert_cmpstr (type_id, ==, DOG_TYPE_ID);
  g_assert_cmpint (count, ==, 0);
  g_assert_true (disposed);
  g_clear_pointer (&type_id, g_free);

  g_object_unref (h);

  /* Without a type id. */
  dog = rc_tn_dog_new ("Rex");
  h = dog_handle_new (dog, 0, NULL);
  g_object_get (h, "type-id", &type_id, "prior-ref-count", &prior, NULL);
  g_assert_null (type_id);
  g_assert_null (rc_native_handle_get_type_id (RC_NATIVE_HANDLE (h)));
  g_assert_cmpint (prior, ==, 0);
  g_object_unref (h);
  g_assert_false (rc_tn_is_alive (dog));

  state_assert_clean (&state);
}

static void
test_add_ref_decrement_ref (void)
{
  State state;
  TestDogHandle *h;
  gpointer dog;

  dog_state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  h = dog_handle_new (dog, 0, DOG_TYPE_ID);

  rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (h));
  g_assert_cmpint (count_of (h), ==, 2);
  rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (h));
  g_assert_cmpint (count_of (h), ==, 3);
  rc_reference_counter_decrement_ref (RC_REFERENCE_COUNTER (h));
  g_assert_cmpint (count_of (h), ==, 2);
  rc_reference_counter_decrement_ref (RC_REFERENCE_COUNTER (h));
  rc_reference_counter_decrement_ref (RC_REFERENCE_COUNTER (h));
  g_assert_cmpint (count_of (h), ==, 0);

  /* decrement_ref is a raw adjustment: reaching zero releases nothing. */
  g_assert_cmpint (h->release_calls, ==, 0);
  g_assert_true (rc_tn_is_alive (dog));
  g_assert_false (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (h)));
  g_assert_true (rc_native_handle_get_handle (RC_NATIVE_HANDLE (h)) == dog);

  /* Never below zero, no critical. */
  rc_reference_counter_decrement_ref (RC_REFERENCE_COUNTER (h));
  g_assert_cmpint (count_of (h), ==, 0);
  g_assert_cmpint (h->release_calls, ==, 0);

  /* Not disposed, so add_ref counts again. */
  rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (h));
  g_assert_cmpint (count_of (h), ==, 1);

  g_object_unref (h);
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_cmpint (total_release_calls, ==, 1);
  state_assert_clean (&state);
}

static void
test_release_at_zero_count (void)
{
  State state;
  TestDogHandle *h;
  gpointer dog;

  /* A release at count 0 (after decrement_ref) on a handle that is not
   * disposed releases the resource. */
  dog_state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  h = dog_handle_new (dog, 0, DOG_TYPE_ID);
  rc_reference_counter_decrement_ref (RC_REFERENCE_COUNTER (h));
  g_assert_cmpint (count_of (h), ==, 0);
  g_assert_true (rc_tn_is_alive (dog));

  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  g_assert_cmpint (h->release_calls, ==, 1);
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_true (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (h)));
  g_assert_cmpint (count_of (h), ==, 0);

  g_object_unref (h);
  g_assert_cmpint (total_release_calls, ==, 1);
  state_assert_clean (&state);
}

static void
test_release_once (void)
{
  State state;
  FreedLog log = { { NULL, NULL }, { 0, 0 }, { 0 }, 0 };
  TestDogHandle *h;
  gpointer dog;
  gpointer weak;
  long freed_before;

  dog_state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  log.watched[0] = dog;
  rc_tn_set_freed_callback (freed_cb, &log);
  h = dog_handle_new (dog, 0, DOG_TYPE_ID);
  freed_before = rc_tn_freed_count ();

  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  g_assert_cmpint (h->release_calls, ==, 1);
  /* release_handle ran at count 0, with the pointer still set. */
  g_assert_cmpint (h->count_seen, ==, 0);
  g_assert_true (h->handle_seen == dog);
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_cmpint (log.freed[0], ==, 1);
  g_assert_cmpint (rc_tn_freed_count (), ==, freed_before + 1);

  g_assert_null (rc_native_handle_get_handle (RC_NATIVE_HANDLE (h)));
  g_assert_true (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (h)));
  g_assert_true (rc_native_handle_is_invalid (RC_NATIVE_HANDLE (h)));
  g_assert_cmpint (count_of (h), ==, 0);
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased);

  /* Every later release is a no-op: no second call, no double free. */
  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  rc_native_handle_dispose (RC_NATIVE_HANDLE (h));
  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  g_object_run_dispose (G_OBJECT (h));
  g_assert_cmpint (h->release_calls, ==, 1);
  g_assert_cmpint (count_of (h), ==, 0);
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased);

  weak = h;
  g_object_add_weak_pointer (G_OBJECT (h), &weak);
  g_object_unref (h);
  g_assert_null (weak);
  g_assert_cmpint (total_release_calls, ==, 1);
  g_assert_cmpint (log.freed[0], ==, 1);
  g_assert_cmpint (rc_tn_freed_count (), ==, freed_before + 1);

  rc_tn_set_freed_callback (NULL, NULL);
  state_assert_clean (&state);
}

static void
test_dispose_synonym (void)
{
  State state;
  TestDogHandle *h;
  gpointer dog;

  dog_state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  h = dog_handle_new (dog, 1, DOG_TYPE_ID);
  g_assert_cmpint (count_of (h), ==, 2);

  rc_native_handle_dispose (RC_NATIVE_HANDLE (h));
  g_assert_cmpint (count_of (h), ==, 1);
  g_assert_true (rc_tn_is_alive (dog));
  g_assert_cmpint (h->release_calls, ==, 0);
  g_assert_false (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (h)));

  rc_native_handle_dispose (RC_NATIVE_HANDLE (h));
  g_assert_cmpint (count_of (h), ==, 0);
  g_assert_cmpint (h->release_calls, ==, 1);
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_true (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (h)));
  g_assert_null (rc_native_handle_get_handle (RC_NATIVE_HANDLE (h)));

  rc_native_handle_dispose (RC_NATIVE_HANDLE (h));
  g_assert_cmpint (h->release_calls, ==, 1);

  g_object_unref (h);
  g_assert_cmpint (total_release_calls, ==, 1);
  state_assert_clean (&state);
}

static void
test_no_resurrection (void)
{
  State state;
  TestDogHandle *h;
  gpointer dog;
  GError *error = NULL;
  gpointer ptr;

  dog_state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  h = dog_handle_new (dog, 0, DOG_TYPE_ID);
  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  g_assert_false (rc_tn_is_alive (dog));

  rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (h));
  g_assert_cmpint (count_of (h), ==, 0);
  g_assert_true (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (h)));
  g_assert_null (rc_native_handle_get_handle (RC_NATIVE_HANDLE (h)));

  rc_reference_counter_decrement_ref (RC_REFERENCE_COUNTER (h));
  g_assert_cmpint (count_of (h), ==, 0);

  ptr = rc_native_handle_acquire (RC_NATIVE_HANDLE (h), &error);
  g_assert_null (ptr);
  g_assert_error (error, RC_ERROR, RC_ERROR_DISPOSED);
  g_clear_error (&error);
  g_assert_cmpint (count_of (h), ==, 0);

  /* NULL GError is allowed. */
  ptr = rc_native_handle_acquire (RC_NATIVE_HANDLE (h), NULL);
  g_assert_null (ptr);
  g_assert_cmpint (count_of (h), ==, 0);

  rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (h));
  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  g_assert_cmpint (h->release_calls, ==, 1);
  g_assert_true (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (h)));
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);

  g_object_unref (h);
  g_assert_cmpint (total_release_calls, ==, 1);
  state_assert_clean (&state);
}

static void
test_acquire (void)
{
  State state;
  TestDogHandle *h;
  gpointer dog;
  gpointer ptr;
  GError *error = NULL;

  dog_state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  h = dog_handle_new (dog, 0, DOG_TYPE_ID);

  ptr = rc_native_handle_acquire (RC_NATIVE_HANDLE (h), &error);
  g_assert_no_error (error);
  g_assert_true (ptr == dog);
  g_assert_cmpint (count_of (h), ==, 2);

  /* The owner reference goes away; the borrow keeps the dog alive. */
  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  g_assert_cmpint (count_of (h), ==, 1);
  g_assert_cmpint (h->release_calls, ==, 0);
  g_assert_true (rc_tn_is_alive (dog));
  g_assert_cmpint (rc_tn_get_ref_count (dog), ==, 1);
  g_assert_cmpstr (rc_tn_dog_get_name (ptr), ==, "Rex");
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);
  g_assert_false (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (h)));

  /* The borrow ends: released now, once. */
  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  g_assert_cmpint (h->release_calls, ==, 1);
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_true (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (h)));

  g_object_unref (h);
  g_assert_cmpint (total_release_calls, ==, 1);
  state_assert_clean (&state);
}

static void
test_acquire_nested (void)
{
  State state;
  TestDogHandle *h;
  gpointer dog;
  int i;

  dog_state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  h = dog_handle_new (dog, 0, DOG_TYPE_ID);

  for (i = 0; i < 10; i++)
    g_assert_true (rc_native_handle_acquire (RC_NATIVE_HANDLE (h), NULL) == dog);
  g_assert_cmpint (count_of (h), ==, 11);
  for (i = 0; i < 10; i++)
    rc_native_handle_release (RC_NATIVE_HANDLE (h));
  g_assert_cmpint (count_of (h), ==, 1);
  g_assert_true (rc_tn_is_alive (dog));
  g_assert_cmpint (h->release_calls, ==, 0);

  g_object_unref (h);
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_cmpint (total_release_calls, ==, 1);
  state_assert_clean (&state);
}

static void
test_acquire_at_zero (void)
{
  State state;
  TestDogHandle *h;
  gpointer dog;
  gpointer ptr;
  GError *error = NULL;

  dog_state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  h = dog_handle_new (dog, 0, DOG_TYPE_ID);
  rc_reference_counter_decrement_ref (RC_REFERENCE_COUNTER (h));
  g_assert_cmpint (count_of (h), ==, 0);

  ptr = rc_native_handle_acquire (RC_NATIVE_HANDLE (h), &error);
  g_assert_no_error (error);
  g_assert_true (ptr == dog);
  g_assert_cmpint (count_of (h), ==, 1);

  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  g_assert_cmpint (h->release_calls, ==, 1);
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_true (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (h)));

  g_object_unref (h);
  g_assert_cmpint (total_release_calls, ==, 1);
  state_assert_clean (&state);
}

static void
test_acquire_never_set (void)
{
  State state;
  TestDogHandle *h;
  GError *error = NULL;
  int before;

  dog_state_begin (&state);
  h = dog_handle_new (NULL, 0, DOG_TYPE_ID);
  before = count_of (h);

  g_assert_null (rc_native_handle_acquire (RC_NATIVE_HANDLE (h), &error));
  g_assert_error (error, RC_ERROR, RC_ERROR_DISPOSED);
  g_clear_error (&error);
  g_assert_cmpint (count_of (h), ==, before);
  g_assert_true (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (h)));

  g_object_unref (h);
  g_assert_cmpint (total_release_calls, ==, 0);
  state_assert_clean (&state);
}

static void
test_release_failure (void)
{
  State state;
  TestDogHandle *h;
  gpointer dog;

  dog_state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  h = dog_handle_new (dog, 0, DOG_TYPE_ID);
  h->fail = TRUE;

  expect_release_failure ();
  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  g_test_assert_expected_messages ();

  g_assert_cmpint (h->release_calls, ==, 1);
  g_assert_true (rc_native_handle_get_handle (RC_NATIVE_HANDLE (h)) == dog);
  g_assert_false (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (h)));
  g_assert_false (rc_native_handle_is_invalid (RC_NATIVE_HANDLE (h)));
  g_assert_cmpint (count_of (h), ==, 0);
  g_assert_true (rc_tn_is_alive (dog));
  g_assert_cmpint (rc_tn_get_ref_count (dog), ==, 1);
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased + 1);

  /* Still failing: retried, warned again, count stays 0. */
  expect_release_failure ();
  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  g_test_assert_expected_messages ();
  g_assert_cmpint (h->release_calls, ==, 2);
  g_assert_cmpint (count_of (h), ==, 0);
  g_assert_true (rc_tn_is_alive (dog));

  /* Native side fixed: a later dispose retries and succeeds. */
  h->fail = FALSE;
  rc_native_handle_dispose (RC_NATIVE_HANDLE (h));
  g_assert_cmpint (h->release_calls, ==, 3);
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_true (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (h)));
  g_assert_null (rc_native_handle_get_handle (RC_NATIVE_HANDLE (h)));
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased);

  rc_native_handle_dispose (RC_NATIVE_HANDLE (h));
  g_object_unref (h);
  g_assert_cmpint (total_release_calls, ==, 3);
  state_assert_clean (&state);
}

static void
test_release_failure_at_unref (void)
{
  State state;
  TestDogHandle *h;
  gpointer dog;

  dog_state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  h = dog_handle_new (dog, 0, DOG_TYPE_ID);
  h->fail = TRUE;

  expect_release_failure ();
  g_object_unref (h);
  g_test_assert_expected_messages ();

  g_assert_cmpint (total_release_calls, ==, 1);
  g_assert_true (rc_tn_is_alive (dog));
  g_assert_cmpint (rc_tn_get_ref_count (dog), ==, 1);

  rc_tn_release (dog);
  state_assert_clean (&state);
}

static void
test_release_failure_retry_at_unref (void)
{
  State state;
  TestDogHandle *h;
  gpointer dog;

  dog_state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  h = dog_handle_new (dog, 0, DOG_TYPE_ID);
  h->fail = TRUE;

  expect_release_failure ();
  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  g_test_assert_expected_messages ();
  g_assert_true (rc_tn_is_alive (dog));

  /* Dropping the wrapper is a later dispose: it retries. */
  h->fail = FALSE;
  g_object_unref (h);
  g_assert_cmpint (total_release_calls, ==, 2);
  g_assert_false (rc_tn_is_alive (dog));
  state_assert_clean (&state);
}

static void
test_acquire_after_failed_release (void)
{
  State state;
  TestDogHandle *h;
  gpointer dog;
  gpointer ptr;
  GError *error = NULL;

  dog_state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  h = dog_handle_new (dog, 0, DOG_TYPE_ID);
  h->fail = TRUE;

  expect_release_failure ();
  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  g_test_assert_expected_messages ();

  ptr = rc_native_handle_acquire (RC_NATIVE_HANDLE (h), &error);
  g_assert_no_error (error);
  g_assert_true (ptr == dog);
  g_assert_cmpint (count_of (h), ==, 1);

  h->fail = FALSE;
  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  g_assert_cmpint (h->release_calls, ==, 2);
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_true (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (h)));

  g_object_unref (h);
  g_assert_cmpint (total_release_calls, ==, 2);
  state_assert_clean (&state);
}

static void
test_set_handle (void)
{
  State state;
  TestDogHandle *h;
  gpointer dog;
  GError *error = NULL;
  gboolean disposed = FALSE;
  int before;

  dog_state_begin (&state);
  h = dog_handle_new (NULL, 0, DOG_TYPE_ID);

  g_assert_null (rc_native_handle_get_handle (RC_NATIVE_HANDLE (h)));
  g_assert_true (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (h)));
  g_assert_true (rc_native_handle_is_invalid (RC_NATIVE_HANDLE (h)));
  g_object_get (h, "disposed", &disposed, NULL);
  g_assert_true (disposed);
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased);

  /* Nothing to release yet, and add_ref is a no-op. */
  before = count_of (h);
  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  rc_native_handle_dispose (RC_NATIVE_HANDLE (h));
  g_assert_cmpint (h->release_calls, ==, 0);
  rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (h));
  g_assert_cmpint (count_of (h), ==, before);

  dog = rc_tn_dog_new ("Rex");
  g_assert_true (rc_native_handle_set_handle (RC_NATIVE_HANDLE (h), dog, 0, &error));
  g_assert_no_error (error);
  g_assert_true (rc_native_handle_get_handle (RC_NATIVE_HANDLE (h)) == dog);
  g_assert_cmpint (count_of (h), ==, 1);
  g_assert_false (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (h)));
  g_assert_false (rc_native_handle_is_invalid (RC_NATIVE_HANDLE (h)));
  g_object_get (h, "disposed", &disposed, NULL);
  g_assert_false (disposed);
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased + 1);
  g_assert_cmpint (rc_tn_get_ref_count (dog), ==, 1);

  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  g_assert_cmpint (h->release_calls, ==, 1);
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_true (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (h)));
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased);

  g_object_unref (h);
  g_assert_cmpint (total_release_calls, ==, 1);
  state_assert_clean (&state);
}

static void
test_set_handle_prior (void)
{
  State state;
  TestDogHandle *h;
  gpointer dog;
  GError *error = NULL;

  dog_state_begin (&state);
  h = dog_handle_new (NULL, 0, NULL);
  dog = rc_tn_dog_new ("Rex");

  g_assert_true (rc_native_handle_set_handle (RC_NATIVE_HANDLE (h), dog, 2, &error));
  g_assert_no_error (error);
  g_assert_cmpint (count_of (h), ==, 3);

  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  g_assert_cmpint (count_of (h), ==, 1);
  g_assert_true (rc_tn_is_alive (dog));
  g_assert_cmpint (h->release_calls, ==, 0);

  /* The wrapper's own reference is the last one. */
  g_object_unref (h);
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_cmpint (total_release_calls, ==, 1);
  state_assert_clean (&state);
}

static void
test_set_handle_errors (void)
{
  State state;
  TestDogHandle *h;
  gpointer dog;
  gpointer dog2;
  GError *error = NULL;
  int not_native = 0;

  dog_state_begin (&state);

  /* INVALID_HANDLE: NULL, and a pointer is_valid_handle rejects. */
  h = dog_handle_new (NULL, 0, DOG_TYPE_ID);
  g_assert_false (rc_native_handle_set_handle (RC_NATIVE_HANDLE (h), NULL, 0, &error));
  g_assert_error (error, RC_ERROR, RC_ERROR_INVALID_HANDLE);
  g_clear_error (&error);
  g_assert_false (rc_native_handle_set_handle (RC_NATIVE_HANDLE (h), &not_native, 0, &error));
  g_assert_error (error, RC_ERROR, RC_ERROR_INVALID_HANDLE);
  g_clear_error (&error);
  g_assert_false (rc_native_handle_set_handle (RC_NATIVE_HANDLE (h), &not_native, 0, NULL));
  g_assert_null (rc_native_handle_get_handle (RC_NATIVE_HANDLE (h)));
  g_assert_true (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (h)));
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased);

  /* INVALID_ARGUMENT: negative prior count (a GError, not a critical). */
  dog = rc_tn_dog_new ("Rex");
  g_assert_false (rc_native_handle_set_handle (RC_NATIVE_HANDLE (h), dog, -1, &error));
  g_assert_error (error, RC_ERROR, RC_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (rc_native_handle_get_handle (RC_NATIVE_HANDLE (h)));
  g_assert_true (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (h)));
  g_assert_cmpint (rc_tn_get_ref_count (dog), ==, 1);

  /* After the failures, a valid call still works. */
  g_assert_true (rc_native_handle_set_handle (RC_NATIVE_HANDLE (h), dog, 0, &error));
  g_assert_no_error (error);
  g_assert_cmpint (count_of (h), ==, 1);

  /* HANDLE_ALREADY_SET: the pointer and the count are kept. */
  dog2 = rc_tn_dog_new ("Fido");
  rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (h));
  g_assert_false (rc_native_handle_set_handle (RC_NATIVE_HANDLE (h), dog2, 0, &error));
  g_assert_error (error, RC_ERROR, RC_ERROR_HANDLE_ALREADY_SET);
  g_clear_error (&error);
  g_assert_true (rc_native_handle_get_handle (RC_NATIVE_HANDLE (h)) == dog);
  g_assert_cmpint (count_of (h), ==, 2);
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased + 1);
  rc_native_handle_release (RC_NATIVE_HANDLE (h));

  /* DISPOSED: released handles cannot be set again. */
  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_cmpint (h->release_calls, ==, 1);
  g_assert_false (rc_native_handle_set_handle (RC_NATIVE_HANDLE (h), dog2, 0, &error));
  g_assert_error (error, RC_ERROR, RC_ERROR_DISPOSED);
  g_clear_error (&error);
  g_assert_null (rc_native_handle_get_handle (RC_NATIVE_HANDLE (h)));
  g_assert_true (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (h)));
  g_assert_cmpint (count_of (h), ==, 0);

  g_object_unref (h);
  g_assert_cmpint (total_release_calls, ==, 1);
  /* The rejected dog was not touched. */
  g_assert_true (rc_tn_is_alive (dog2));
  g_assert_cmpint (rc_tn_get_ref_count (dog2), ==, 1);
  rc_tn_release (dog2);

  /* ALREADY_SET on a handle constructed with a pointer. */
  dog = rc_tn_dog_new ("Rex");
  h = dog_handle_new (dog, 0, DOG_TYPE_ID);
  g_assert_false (rc_native_handle_set_handle (RC_NATIVE_HANDLE (h), dog, 0, &error));
  g_assert_error (error, RC_ERROR, RC_ERROR_HANDLE_ALREADY_SET);
  g_clear_error (&error);
  g_assert_cmpint (count_of (h), ==, 1);
  g_object_unref (h);
  g_assert_false (rc_tn_is_alive (dog));

  state_assert_clean (&state);
}

static void
test_invalid_handle_at_construction (void)
{
  State state;
  TestDogHandle *h;
  gpointer dog;
  int not_native = 0;
  GError *error = NULL;

  dog_state_begin (&state);

  g_test_expect_message ("Refcount", G_LOG_LEVEL_CRITICAL, "*not a valid handle*");
  h = dog_handle_new (&not_native, 0, DOG_TYPE_ID);
  g_test_assert_expected_messages ();

  g_assert_nonnull (h);
  g_assert_null (rc_native_handle_get_handle (RC_NATIVE_HANDLE (h)));
  g_assert_true (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (h)));
  g_assert_true (rc_native_handle_is_invalid (RC_NATIVE_HANDLE (h)));
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased);
  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  g_assert_cmpint (h->release_calls, ==, 0);

  /* The handle stays unset, so it can still be set properly. */
  dog = rc_tn_dog_new ("Rex");
  g_assert_true (rc_native_handle_set_handle (RC_NATIVE_HANDLE (h), dog, 0, &error));
  g_assert_no_error (error);
  g_assert_cmpint (count_of (h), ==, 1);
  g_object_unref (h);
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_cmpint (total_release_calls, ==, 1);
  g_assert_cmpint (not_native, ==, 0);

  /* Unset and dropped: release_handle never runs. */
  g_test_expect_message ("Refcount", G_LOG_LEVEL_CRITICAL, "*not a valid handle*");
  h = dog_handle_new (&not_native, 0, NULL);
  g_test_assert_expected_messages ();
  g_object_unref (h);
  g_assert_cmpint (total_release_calls, ==, 1);

  state_assert_clean (&state);
}

static int bare_dummy;

static void
test_default_vfuncs (void)
{
  State state;
  TestBareHandle *h;
  GError *error = NULL;

  dog_state_begin (&state);
  h = g_object_new (TEST_TYPE_BARE_HANDLE, "handle", &bare_dummy, NULL);
  g_assert_true (rc_native_handle_get_handle (RC_NATIVE_HANDLE (h)) == &bare_dummy);
  g_assert_cmpint (count_of (h), ==, 1);

  /* Default is_valid_handle: any non-NULL pointer. */
  g_assert_false (rc_native_handle_is_valid_handle (RC_NATIVE_HANDLE (h), NULL));
  g_assert_true (rc_native_handle_is_valid_handle (RC_NATIVE_HANDLE (h), &bare_dummy));
  g_assert_true (rc_native_handle_is_valid_handle (RC_NATIVE_HANDLE (h), &state));

  /* Default release_handle: a critical, and the release fails. */
  g_test_expect_message ("Refcount", G_LOG_LEVEL_CRITICAL, "*does not implement*release_handle*");
  expect_release_failure ();
  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  g_test_assert_expected_messages ();
  g_assert_true (rc_native_handle_get_handle (RC_NATIVE_HANDLE (h)) == &bare_dummy);
  g_assert_false (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (h)));
  g_assert_cmpint (count_of (h), ==, 0);

  /* Dropping it retries, and fails the same way. */
  g_test_expect_message ("Refcount", G_LOG_LEVEL_CRITICAL, "*does not implement*release_handle*");
  expect_release_failure ();
  g_object_unref (h);
  g_test_assert_expected_messages ();
  g_assert_cmpint (bare_dummy, ==, 0);

  /* Default is_valid_handle rejects NULL in set_handle. */
  h = g_object_new (TEST_TYPE_BARE_HANDLE, NULL);
  g_assert_true (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (h)));
  g_assert_false (rc_native_handle_set_handle (RC_NATIVE_HANDLE (h), NULL, 0, &error));
  g_assert_error (error, RC_ERROR, RC_ERROR_INVALID_HANDLE);
  g_clear_error (&error);
  /* Never set: dropping it calls nothing (no critical). */
  g_object_unref (h);

  state_assert_clean (&state);
}

static void
test_is_valid_handle_override (void)
{
  State state;
  TestDogHandle *h;
  gpointer dog;
  int not_native = 0;

  dog_state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  h = dog_handle_new (dog, 0, NULL);

  g_assert_true (rc_native_handle_is_valid_handle (RC_NATIVE_HANDLE (h), dog));
  g_assert_false (rc_native_handle_is_valid_handle (RC_NATIVE_HANDLE (h), NULL));
  g_assert_false (rc_native_handle_is_valid_handle (RC_NATIVE_HANDLE (h), &not_native));

  g_object_unref (h);
  g_assert_false (rc_tn_is_alive (dog));
  state_assert_clean (&state);
}

static void
test_gobject_dispose_releases (void)
{
  State state;
  TestDogHandle *h;
  gpointer dog;
  FreedLog log = { { NULL, NULL }, { 0, 0 }, { 0 }, 0 };

  dog_state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  log.watched[0] = dog;
  rc_tn_set_freed_callback (freed_cb, &log);
  h = dog_handle_new (dog, 0, DOG_TYPE_ID);

  g_object_unref (h);
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_cmpint (log.freed[0], ==, 1);
  g_assert_cmpint (total_release_calls, ==, 1);
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased);

  rc_tn_set_freed_callback (NULL, NULL);
  state_assert_clean (&state);
}

static void
test_gobject_dispose_outstanding (void)
{
  State state;
  TestDogHandle *h;
  gpointer dog;

  dog_state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  h = dog_handle_new (dog, 0, DOG_TYPE_ID);
  rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (h));

  /* RC_DEBUG is empty here: no leak warning (it would be fatal). */
  g_object_unref (h);
  g_assert_cmpint (total_release_calls, ==, 0);
  g_assert_true (rc_tn_is_alive (dog));
  g_assert_cmpint (rc_tn_get_ref_count (dog), ==, 1);
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);

  rc_tn_release (dog);
  state_assert_clean (&state);
}

static void
test_run_dispose_twice (void)
{
  State state;
  TestDogHandle *h;
  gpointer dog;

  dog_state_begin (&state);

  dog = rc_tn_dog_new ("Rex");
  h = dog_handle_new (dog, 0, DOG_TYPE_ID);
  g_object_run_dispose (G_OBJECT (h));
  g_assert_cmpint (h->release_calls, ==, 1);
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_true (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (h)));
  g_object_run_dispose (G_OBJECT (h));
  g_assert_cmpint (h->release_calls, ==, 1);
  g_object_unref (h);
  g_assert_cmpint (total_release_calls, ==, 1);

  /* With an extra reference: the wrapper gives up its own one only once. */
  dog = rc_tn_dog_new ("Rex");
  h = dog_handle_new (dog, 0, DOG_TYPE_ID);
  rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (h));
  g_object_run_dispose (G_OBJECT (h));
  g_assert_cmpint (count_of (h), ==, 1);
  g_object_run_dispose (G_OBJECT (h));
  g_assert_cmpint (count_of (h), ==, 1);
  g_assert_cmpint (h->release_calls, ==, 0);
  g_assert_true (rc_tn_is_alive (dog));
  g_assert_false (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (h)));

  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  g_assert_cmpint (h->release_calls, ==, 1);
  g_assert_false (rc_tn_is_alive (dog));
  g_object_unref (h);
  g_assert_cmpint (total_release_calls, ==, 2);

  state_assert_clean (&state);
}

/* RC_DEBUG=leaks: runs in a child that reads the variable at first use. */
static void
leak_child (const char *type_id,
            int         extra_refs)
{
  TestDogHandle *h;
  gpointer dog;
  int i;

  /* The leak report is a warning; let it reach stderr instead of aborting. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);

  dog = rc_tn_dog_new ("Rex");
  h = dog_handle_new (dog, 0, type_id);
  for (i = 0; i < extra_refs; i++)
    rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (h));
  g_object_unref (h);

  if (extra_refs > 0)
    {
      g_assert_true (rc_tn_is_alive (dog));
      g_assert_cmpint (rc_tn_get_ref_count (dog), ==, 1);
      g_assert_cmpint (total_release_calls, ==, 0);
      rc_tn_release (dog);
    }
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);
}

static void
run_leak_subprocess (const char *path)
{
  g_setenv ("RC_DEBUG", "leaks", TRUE);
  g_test_trap_subprocess (path, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_setenv ("RC_DEBUG", "", TRUE);
  g_test_trap_assert_passed ();
}

static void
test_leak_warning (void)
{
  if (g_test_subprocess ())
    {
      leak_child (DOG_TYPE_ID, 1);
      return;
    }

  run_leak_subprocess ("/native-handle/leak-warning");
  g_test_trap_assert_stderr ("*WARNING*Native handle of type id \"DOG_PTR\" leaked with 1 outstanding reference*");
}

static void
test_leak_warning_count (void)
{
  if (g_test_subprocess ())
    {
      leak_child (DOG_TYPE_ID, 3);
      return;
    }

  run_leak_subprocess ("/native-handle/leak-warning-count");
  g_test_trap_assert_stderr ("*Native handle of type id \"DOG_PTR\" leaked with 3 outstanding reference*");
}

static void
test_leak_warning_no_type_id (void)
{
  if (g_test_subprocess ())
    {
      leak_child (NULL, 1);
      return;
    }

  run_leak_subprocess ("/native-handle/leak-warning-no-type-id");
  g_test_trap_assert_stderr ("*Native handle of type id \"(none)\" leaked with 1 outstanding reference*");
}

static void
test_leak_warning_not_leaked (void)
{
  if (g_test_subprocess ())
    {
      leak_child (DOG_TYPE_ID, 0);
      return;
    }

  run_leak_subprocess ("/native-handle/leak-warning-not-leaked");
  g_test_trap_assert_stderr_unmatched ("*leaked*");
}

static void
test_construct (void)
{
  State state;
  TestDogHandle *h;
  gpointer dog, dog2;
  GError *error = NULL;

  dog_state_begin (&state);

  /* As the construct properties do: pointer, type id and count. */
  dog = rc_tn_dog_new ("Rex");
  h = g_object_new (TEST_TYPE_DOG_HANDLE, NULL);
  g_assert_true (rc_native_handle_construct (RC_NATIVE_HANDLE (h), dog, DOG_TYPE_ID, 2));
  g_assert_true (rc_native_handle_get_handle (RC_NATIVE_HANDLE (h)) == dog);
  g_assert_cmpstr (rc_native_handle_get_type_id (RC_NATIVE_HANDLE (h)), ==, DOG_TYPE_ID);
  g_assert_cmpint (count_of (h), ==, 3);
  g_assert_false (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (h)));

  /* Only once. */
  expect_assertion ();
  g_assert_false (rc_native_handle_construct (RC_NATIVE_HANDLE (h), dog, NULL, 0));
  g_test_assert_expected_messages ();
  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  g_assert_true (rc_tn_is_alive (dog));
  g_object_unref (h);  /* the wrapper's reference: released now */
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_cmpint (total_release_calls, ==, 1);

  /* Without a pointer: the count is kept for rc_native_handle_set_handle(). */
  h = g_object_new (TEST_TYPE_DOG_HANDLE, NULL);
  g_assert_true (rc_native_handle_construct (RC_NATIVE_HANDLE (h), NULL, NULL, 4));
  g_assert_true (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (h)));
  g_assert_cmpint (count_of (h), ==, 5);
  g_assert_null (rc_native_handle_get_type_id (RC_NATIVE_HANDLE (h)));
  dog2 = rc_tn_dog_new ("Fido");
  g_assert_true (rc_native_handle_set_handle (RC_NATIVE_HANDLE (h), dog2, 0, &error));
  g_assert_no_error (error);
  g_assert_cmpint (count_of (h), ==, 1);
  g_object_unref (h);
  g_assert_false (rc_tn_is_alive (dog2));
  g_assert_cmpint (total_release_calls, ==, 2);

  /* Bad arguments. */
  h = g_object_new (TEST_TYPE_DOG_HANDLE, NULL);
  expect_assertion ();
  g_assert_false (rc_native_handle_construct (RC_NATIVE_HANDLE (h), NULL, NULL, -1));
  g_test_assert_expected_messages ();
  expect_assertion ();
  g_assert_false (rc_native_handle_construct (NULL, NULL, NULL, 0));
  g_test_assert_expected_messages ();
  g_object_unref (h);

  state_assert_all_released (&state);
}

static void
test_drop_wrapper_reference (void)
{
  State state;
  TestDogHandle *h;
  gpointer dog;

  dog_state_begin (&state);

  /* With another reference outstanding: the wrapper's one only, once. */
  dog = rc_tn_dog_new ("Rex");
  h = dog_handle_new (dog, 0, DOG_TYPE_ID);
  rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (h));
  g_assert_true (rc_native_handle_drop_wrapper_reference (RC_NATIVE_HANDLE (h)));
  g_assert_cmpint (count_of (h), ==, 1);
  g_assert_true (rc_tn_is_alive (dog));
  g_assert_cmpint (h->release_calls, ==, 0);
  g_assert_false (rc_native_handle_drop_wrapper_reference (RC_NATIVE_HANDLE (h)));
  g_assert_cmpint (count_of (h), ==, 1);
  /* GObject dispose no longer gives it back either. */
  g_object_run_dispose (G_OBJECT (h));
  g_assert_cmpint (count_of (h), ==, 1);
  g_assert_true (rc_tn_is_alive (dog));
  g_assert_cmpint (rc_tn_get_ref_count (dog), ==, 1);

  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  g_assert_cmpint (h->release_calls, ==, 1);
  g_assert_false (rc_tn_is_alive (dog));
  g_object_unref (h);
  g_assert_cmpint (total_release_calls, ==, 1);

  /* As the last reference: releases now, before the GObject goes. */
  dog = rc_tn_dog_new ("Rex");
  h = dog_handle_new (dog, 0, DOG_TYPE_ID);
  g_assert_true (rc_native_handle_drop_wrapper_reference (RC_NATIVE_HANDLE (h)));
  g_assert_cmpint (h->release_calls, ==, 1);
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_true (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (h)));
  g_assert_false (rc_native_handle_drop_wrapper_reference (RC_NATIVE_HANDLE (h)));
  g_object_unref (h);
  g_assert_cmpint (total_release_calls, ==, 2);

  /* After g_object_run_dispose, the wrapper's reference is already gone. */
  dog = rc_tn_dog_new ("Rex");
  h = dog_handle_new (dog, 1, DOG_TYPE_ID);
  g_object_run_dispose (G_OBJECT (h));
  g_assert_cmpint (count_of (h), ==, 1);
  g_assert_false (rc_native_handle_drop_wrapper_reference (RC_NATIVE_HANDLE (h)));
  g_assert_cmpint (count_of (h), ==, 1);
  g_assert_true (rc_tn_is_alive (dog));
  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  g_assert_false (rc_tn_is_alive (dog));
  g_object_unref (h);
  g_assert_cmpint (total_release_calls, ==, 3);

  state_assert_clean (&state);
}

static void
test_to_string (void)
{
  State state;
  TestDogHandle *h;
  gpointer dog;
  char *str;
  char *expected;

  dog_state_begin (&state);

  dog = rc_tn_dog_new ("Rex");
  h = dog_handle_new (dog, 0, DOG_TYPE_ID);
  str = rc_native_handle_to_string (RC_NATIVE_HANDLE (h));
  g_assert_cmpstr (str, ==, "TestDogHandle to a native pointer of type id \"DOG_PTR\"");
  g_free (str);
  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  str = rc_native_handle_to_string (RC_NATIVE_HANDLE (h));
  g_assert_cmpstr (str, ==, "TestDogHandle to a native pointer of type id \"DOG_PTR\" (disposed)");
  g_free (str);
  g_object_unref (h);

  dog = rc_tn_dog_new ("Rex");
  h = dog_handle_new (dog, 0, NULL);
  str = rc_native_handle_to_string (RC_NATIVE_HANDLE (h));
  expected = g_strdup_printf ("TestDogHandle to a native pointer %p", dog);
  g_assert_true (g_str_has_prefix (expected, "TestDogHandle to a native pointer 0x"));
  g_assert_cmpstr (str, ==, expected);
  g_free (str);
  g_free (expected);
  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  str = rc_native_handle_to_string (RC_NATIVE_HANDLE (h));
  g_assert_true (g_str_has_prefix (str, "TestDogHandle to a native pointer "));
  g_assert_true (g_str_has_suffix (str, " (disposed)"));
  g_assert_null (strstr (str, "type id"));
  g_free (str);
  g_object_unref (h);

  /* An empty type id counts as none. */
  dog = rc_tn_dog_new ("Rex");
  h = dog_handle_new (dog, 0, "");
  str = rc_native_handle_to_string (RC_NATIVE_HANDLE (h));
  expected = g_strdup_printf ("TestDogHandle to a native pointer %p", dog);
  g_assert_cmpstr (str, ==, expected);
  g_free (str);
  g_free (expected);
  g_object_unref (h);

  /* Never set: disposed. */
  h = dog_handle_new (NULL, 0, DOG_TYPE_ID);
  str = rc_native_handle_to_string (RC_NATIVE_HANDLE (h));
  g_assert_cmpstr (str, ==, "TestDogHandle to a native pointer of type id \"DOG_PTR\" (disposed)");
  g_free (str);
  g_object_unref (h);

  g_assert_cmpint (total_release_calls, ==, 3);
  state_assert_clean (&state);
}

static void
test_type_id (void)
{
  State state;
  TestDogHandle *h;
  gpointer dog;

  dog_state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  h = dog_handle_new (dog, 0, "SOME_ID");
  g_assert_cmpstr (rc_native_handle_get_type_id (RC_NATIVE_HANDLE (h)), ==, "SOME_ID");
  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  /* The type id outlives the release. */
  g_assert_cmpstr (rc_native_handle_get_type_id (RC_NATIVE_HANDLE (h)), ==, "SOME_ID");
  g_object_unref (h);

  h = dog_handle_new (NULL, 0, NULL);
  g_assert_null (rc_native_handle_get_type_id (RC_NATIVE_HANDLE (h)));
  g_object_unref (h);

  state_assert_clean (&state);
}

static void
test_live_count (void)
{
  State state;
  TestDogHandle *h1;
  TestDogHandle *h2;
  TestBareHandle *h3;
  gpointer dog;

  dog_state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  h1 = dog_handle_new (dog, 0, DOG_TYPE_ID);
  g_assert_cmpuint (rc_native_handle_get_live_count (), ==, state.handles + 1);
  h2 = dog_handle_new (NULL, 0, NULL);
  g_assert_cmpuint (rc_native_handle_get_live_count (), ==, state.handles + 2);
  h3 = g_object_new (TEST_TYPE_BARE_HANDLE, NULL);
  g_assert_cmpuint (rc_native_handle_get_live_count (), ==, state.handles + 3);

  /* Released is still alive as an instance. */
  rc_native_handle_release (RC_NATIVE_HANDLE (h1));
  g_assert_cmpuint (rc_native_handle_get_live_count (), ==, state.handles + 3);

  g_object_unref (h1);
  g_assert_cmpuint (rc_native_handle_get_live_count (), ==, state.handles + 2);
  g_object_unref (h2);
  g_assert_cmpuint (rc_native_handle_get_live_count (), ==, state.handles + 1);
  g_object_unref (h3);
  g_assert_cmpuint (rc_native_handle_get_live_count (), ==, state.handles);

  state_assert_clean (&state);
}

static void
test_unreleased_count (void)
{
  State state;
  TestDogHandle *h1;
  TestDogHandle *h2;
  TestDogHandle *h3;
  gpointer dog1;
  gpointer dog2;

  dog_state_begin (&state);
  dog1 = rc_tn_dog_new ("Rex");
  dog2 = rc_tn_dog_new ("Fido");

  h1 = dog_handle_new (dog1, 0, DOG_TYPE_ID);
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased + 1);
  h2 = dog_handle_new (NULL, 0, DOG_TYPE_ID);
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased + 1);
  h3 = dog_handle_new (NULL, 0, DOG_TYPE_ID);
  g_assert_true (rc_native_handle_set_handle (RC_NATIVE_HANDLE (h2), dog2, 0, NULL));
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased + 2);

  /* A failed release does not count as released. */
  h1->fail = TRUE;
  expect_release_failure ();
  rc_native_handle_release (RC_NATIVE_HANDLE (h1));
  g_test_assert_expected_messages ();
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased + 2);

  h1->fail = FALSE;
  rc_native_handle_release (RC_NATIVE_HANDLE (h1));
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased + 1);
  g_object_unref (h1);
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased + 1);

  g_object_unref (h2);
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased);
  g_object_unref (h3);
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased);

  g_assert_false (rc_tn_is_alive (dog1));
  g_assert_false (rc_tn_is_alive (dog2));
  g_assert_cmpint (total_release_calls, ==, 3);
  state_assert_clean (&state);
}

static void
test_dog_owner (void)
{
  State state;
  FreedLog log = { { NULL, NULL }, { 0, 0 }, { 0 }, 0 };
  TestDogHandle *dog_h;
  TestDogHandle *owner_h;
  gpointer dog;
  gpointer owner;

  dog_state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  owner = rc_tn_owner_new (dog);
  log.watched[0] = dog;
  log.watched[1] = owner;
  rc_tn_set_freed_callback (freed_cb, &log);

  dog_h = dog_handle_new (dog, 0, DOG_TYPE_ID);
  owner_h = dog_handle_new (owner, 0, "DOG_OWNER_PTR");
  g_assert_cmpint (rc_tn_get_ref_count (dog), ==, 2);
  g_assert_true (rc_tn_owner_get_dog (owner) == dog);

  /* The dog handle goes first: the owner still holds the dog natively. */
  g_object_unref (dog_h);
  g_assert_cmpint (total_release_calls, ==, 1);
  g_assert_true (rc_tn_is_alive (dog));
  g_assert_cmpint (rc_tn_get_ref_count (dog), ==, 1);
  g_assert_cmpint (log.freed[0], ==, 0);
  g_assert_cmpint (rc_tn_owner_walk (owner), ==, 1);
  g_assert_cmpint (rc_tn_owner_walk (owner), ==, 2);
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);

  /* The owner goes: both are freed, owner first, each once. */
  g_object_unref (owner_h);
  g_assert_cmpint (total_release_calls, ==, 2);
  g_assert_false (rc_tn_is_alive (owner));
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_cmpint (log.freed[0], ==, 1);
  g_assert_cmpint (log.freed[1], ==, 1);
  g_assert_cmpint (log.n_order, ==, 2);
  g_assert_cmpint (log.order[0], ==, 1);
  g_assert_cmpint (log.order[1], ==, 0);

  rc_tn_set_freed_callback (NULL, NULL);
  state_assert_clean (&state);
}

static void
test_release_handle_reentrant (void)
{
  State state;
  TestDogHandle *h;
  gpointer dog;

  /* In a child with a timeout, so a deadlock fails instead of hanging. */
  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
      g_test_trap_assert_passed ();
      return;
    }

  dog_state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  h = dog_handle_new (dog, 0, DOG_TYPE_ID);
  h->reenter = TRUE;
  rc_native_handle_release (RC_NATIVE_HANDLE (h));
  g_assert_cmpint (h->release_calls, ==, 1);
  g_assert_cmpint (h->count_seen, ==, 0);
  g_assert_nonnull (h->string_seen);
  g_assert_true (g_str_has_prefix (h->string_seen, "TestDogHandle to a native pointer of type id \"DOG_PTR\""));
  g_assert_false (rc_tn_is_alive (dog));
  g_object_unref (h);
  state_assert_clean (&state);
}

typedef struct
{
  RcNativeHandle *handle;
  int *start;
  gboolean borrow;
} ThreadData;

static gpointer
release_thread (gpointer user_data)
{
  ThreadData *data = user_data;
  int i;

  while (!g_atomic_int_get (data->start))
    g_thread_yield ();

  if (data->borrow)
    {
      /* Borrow and return many times while the others release. */
      for (i = 0; i < 1000; i++)
        {
          gpointer ptr = rc_native_handle_acquire (data->handle, NULL);

          if (ptr == NULL)
            break;
          g_assert_cmpint (rc_tn_get_ref_count (ptr), ==, 1);
          rc_native_handle_release (data->handle);
        }
    }
  rc_native_handle_release (data->handle);
  return NULL;
}

static void
run_release_threads (gboolean borrow)
{
  State state;
  GThread *threads[THREADS];
  ThreadData data[THREADS];
  TestDogHandle *h;
  gpointer dog;
  int start = 0;
  int i;

  dog_state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  /* One reference per thread. */
  h = dog_handle_new (dog, THREADS - 1, DOG_TYPE_ID);

  for (i = 0; i < THREADS; i++)
    {
      data[i].handle = RC_NATIVE_HANDLE (h);
      data[i].start = &start;
      data[i].borrow = borrow;
      threads[i] = g_thread_new ("release", release_thread, &data[i]);
    }
  g_atomic_int_set (&start, 1);
  for (i = 0; i < THREADS; i++)
    g_thread_join (threads[i]);

  g_assert_cmpint (h->release_calls, ==, 1);
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_true (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (h)));
  g_assert_cmpint (count_of (h), ==, 0);
  g_object_unref (h);
  g_assert_cmpint (total_release_calls, ==, 1);
  state_assert_clean (&state);
}

static void
test_threads_release_once (void)
{
  int round;

  for (round = 0; round < 50; round++)
    run_release_threads (FALSE);
}

static void
test_threads_borrow (void)
{
  int round;

  for (round = 0; round < 5; round++)
    run_release_threads (TRUE);
}

static void
test_autoptr (void)
{
  State state;
  gpointer dog;

  dog_state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  {
    g_autoptr(RcNativeHandle) h = RC_NATIVE_HANDLE (dog_handle_new (dog, 0, NULL));

    g_assert_true (rc_native_handle_get_handle (h) == dog);
  }
  g_assert_false (rc_tn_is_alive (dog));
  state_assert_clean (&state);
}

static void
test_null_self (void)
{
  GError *error = NULL;

  expect_assertion ();
  g_assert_null (rc_native_handle_get_handle (NULL));
  g_test_assert_expected_messages ();

  expect_assertion ();
  g_assert_false (rc_native_handle_set_handle (NULL, &bare_dummy, 0, &error));
  g_test_assert_expected_messages ();
  g_assert_no_error (error);

  expect_assertion ();
  g_assert_null (rc_native_handle_get_type_id (NULL));
  g_test_assert_expected_messages ();

  expect_assertion ();
  g_assert_false (rc_native_handle_is_valid_handle (NULL, &bare_dummy));
  g_test_assert_expected_messages ();

  expect_assertion ();
  rc_native_handle_release (NULL);
  g_test_assert_expected_messages ();

  expect_assertion ();
  rc_native_handle_dispose (NULL);
  g_test_assert_expected_messages ();

  expect_assertion ();
  (void) rc_native_handle_is_disposed (NULL);
  g_test_assert_expected_messages ();

  expect_assertion ();
  (void) rc_native_handle_is_invalid (NULL);
  g_test_assert_expected_messages ();

  expect_assertion ();
  g_assert_false (rc_native_handle_drop_wrapper_reference (NULL));
  g_test_assert_expected_messages ();

  expect_assertion ();
  g_assert_null (rc_native_handle_acquire (NULL, &error));
  g_test_assert_expected_messages ();
  g_assert_no_error (error);

  expect_assertion ();
  g_assert_null (rc_native_handle_to_string (NULL));
  g_test_assert_expected_messages ();
}

static void
test_wrong_type (void)
{
  RcReferenceCounter *counter = rc_reference_counter_new (0);
  RcNativeHandle *not_a_handle = (RcNativeHandle *) counter;
  GError *error = NULL;

  expect_assertion ();
  g_assert_null (rc_native_handle_get_handle (not_a_handle));
  g_test_assert_expected_messages ();

  expect_assertion ();
  g_assert_false (rc_native_handle_set_handle (not_a_handle, &bare_dummy, 0, &error));
  g_test_assert_expected_messages ();
  g_assert_no_error (error);

  expect_assertion ();
  g_assert_null (rc_native_handle_get_type_id (not_a_handle));
  g_test_assert_expected_messages ();

  expect_assertion ();
  g_assert_false (rc_native_handle_is_valid_handle (not_a_handle, &bare_dummy));
  g_test_assert_expected_messages ();

  expect_assertion ();
  (void) rc_native_handle_is_disposed (not_a_handle);
  g_test_assert_expected_messages ();

  expect_assertion ();
  (void) rc_native_handle_is_invalid (not_a_handle);
  g_test_assert_expected_messages ();

  expect_assertion ();
  rc_native_handle_release (not_a_handle);
  g_test_assert_expected_messages ();

  expect_assertion ();
  rc_native_handle_dispose (not_a_handle);
  g_test_assert_expected_messages ();

  expect_assertion ();
  g_assert_false (rc_native_handle_drop_wrapper_reference (not_a_handle));
  g_test_assert_expected_messages ();

  expect_assertion ();
  g_assert_null (rc_native_handle_acquire (not_a_handle, &error));
  g_test_assert_expected_messages ();
  g_assert_no_error (error);

  expect_assertion ();
  g_assert_null (rc_native_handle_to_string (not_a_handle));
  g_test_assert_expected_messages ();

  /* The counter itself was not touched. */
  g_assert_cmpint (rc_reference_counter_get_reference_count (counter), ==, 1);
  g_object_unref (counter);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/native-handle/type", test_type);
  g_test_add_func ("/native-handle/new", test_new);
  g_test_add_func ("/native-handle/new-prior", test_new_prior);
  g_test_add_func ("/native-handle/properties", test_properties);
  g_test_add_func ("/native-handle/add-ref-decrement-ref", test_add_ref_decrement_ref);
  g_test_add_func ("/native-handle/release-at-zero-count", test_release_at_zero_count);
  g_test_add_func ("/native-handle/release-once", test_release_once);
  g_test_add_func ("/native-handle/dispose-synonym", test_dispose_synonym);
  g_test_add_func ("/native-handle/no-resurrection", test_no_resurrection);
  g_test_add_func ("/native-handle/acquire", test_acquire);
  g_test_add_func ("/native-handle/acquire-nested", test_acquire_nested);
  g_test_add_func ("/native-handle/acquire-at-zero", test_acquire_at_zero);
  g_test_add_func ("/native-handle/acquire-never-set", test_acquire_never_set);
  g_test_add_func ("/native-handle/release-failure", test_release_failure);
  g_test_add_func ("/native-handle/release-failure-at-unref", test_release_failure_at_unref);
  g_test_add_func ("/native-handle/release-failure-retry-at-unref", test_release_failure_retry_at_unref);
  g_test_add_func ("/native-handle/acquire-after-failed-release", test_acquire_after_failed_release);
  g_test_add_func ("/native-handle/set-handle", test_set_handle);
  g_test_add_func ("/native-handle/set-handle-prior", test_set_handle_prior);
  g_test_add_func ("/native-handle/set-handle-errors", test_set_handle_errors);
  g_test_add_func ("/native-handle/invalid-handle-at-construction", test_invalid_handle_at_construction);
  g_test_add_func ("/native-handle/default-vfuncs", test_default_vfuncs);
  g_test_add_func ("/native-handle/is-valid-handle-override", test_is_valid_handle_override);
  g_test_add_func ("/native-handle/gobject-dispose-releases", test_gobject_dispose_releases);
  g_test_add_func ("/native-handle/gobject-dispose-outstanding", test_gobject_dispose_outstanding);
  g_test_add_func ("/native-handle/run-dispose-twice", test_run_dispose_twice);
  g_test_add_func ("/native-handle/leak-warning", test_leak_warning);
  g_test_add_func ("/native-handle/leak-warning-count", test_leak_warning_count);
  g_test_add_func ("/native-handle/leak-warning-no-type-id", test_leak_warning_no_type_id);
  g_test_add_func ("/native-handle/leak-warning-not-leaked", test_leak_warning_not_leaked);
  g_test_add_func ("/native-handle/drop-wrapper-reference", test_drop_wrapper_reference);
  g_test_add_func ("/native-handle/to-string", test_to_string);
  g_test_add_func ("/native-handle/type-id", test_type_id);
  g_test_add_func ("/native-handle/live-count", test_live_count);
  g_test_add_func ("/native-handle/unreleased-count", test_unreleased_count);
  g_test_add_func ("/native-handle/dog-owner", test_dog_owner);
  g_test_add_func ("/native-handle/release-handle-reentrant", test_release_handle_reentrant);
  g_test_add_func ("/native-handle/threads-release-once", test_threads_release_once);
  g_test_add_func ("/native-handle/threads-borrow", test_threads_borrow);
  g_test_add_func ("/native-handle/autoptr", test_autoptr);
  g_test_add_func ("/native-handle/construct", test_construct);
  g_test_add_func ("/native-handle/null-self", test_null_self);
  g_test_add_func ("/native-handle/wrong-type", test_wrong_type);

  return g_test_run ();
}
