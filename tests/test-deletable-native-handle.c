/* test-deletable-native-handle.c: RcDeletableNativeHandle
 *
 * SPDX-License-Identifier: MIT
 *
 * Handles released by a given function: a C callback with user data and a
 * destroy notify, or a native `void f (void *)` given by address.  Every
 * lifetime test checks the native ground truth of the test library.
 */

#include <refcount/refcount.h>

#include <string.h>

#include "rc-test-native.h"
#include "test-common.h"

#define DOG_TYPE_ID "DOG_PTR"
#define OWNER_TYPE_ID "DOG_OWNER_PTR"

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */


static RcNativeHandle *
as_handle (gpointer handle)
{
  return RC_NATIVE_HANDLE (handle);
}

static void
expect_assertion (void)
{
  g_test_expect_message ("Refcount", G_LOG_LEVEL_CRITICAL, "*assertion*failed*");
}

/* The release function and destroy notify record what they were given. */
typedef struct
{
  int func_calls;
  gpointer func_handle;
  gpointer func_user_data;
  int notify_calls_at_func;   /* notify calls already made when func ran */
  int notify_calls;
  gpointer notify_user_data;
  int func_calls_at_notify;   /* func calls already made when notify ran */
  int handle_alive_at_notify; /* the native object still alive at notify */
  gpointer watched;
} Record;

static void
record_release (gpointer handle,
                gpointer user_data)
{
  Record *record = user_data;

  record->func_calls++;
  record->func_handle = handle;
  record->func_user_data = user_data;
  record->notify_calls_at_func = record->notify_calls;
  rc_tn_release (handle);
}

static void
record_notify (gpointer user_data)
{
  Record *record = user_data;

  record->notify_calls++;
  record->notify_user_data = user_data;
  record->func_calls_at_notify = record->func_calls;
  record->handle_alive_at_notify = record->watched != NULL && rc_tn_is_alive (record->watched);
}

static void
record_init (Record *record,
             gpointer watched)
{
  memset (record, 0, sizeof *record);
  record->watched = watched;
}

static RcDeletableNativeHandle *
record_handle_new (gpointer    ptr,
                   Record     *record,
                   const char *type_id)
{
  return rc_deletable_native_handle_new (ptr, record_release, record, record_notify, type_id);
}

static int release_without_data_calls;

static void
release_without_data (gpointer handle,
                      gpointer user_data)
{
  g_assert_null (user_data);
  release_without_data_calls++;
  rc_tn_release (handle);
}

/* The native release function, by address. */
static gpointer
native_release_address (void)
{
  void (*func) (void *) = rc_tn_release;

  return (gpointer) func;
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                  */

static void
test_type (void)
{
  GType type = RC_TYPE_DELETABLE_NATIVE_HANDLE;

  g_assert_true (g_type_parent (type) == RC_TYPE_NATIVE_HANDLE);
  g_assert_true (g_type_is_a (type, RC_TYPE_REFERENCE_COUNTER));
  g_assert_true (G_TYPE_IS_FINAL (type));
  g_assert_false (G_TYPE_IS_ABSTRACT (type));
  g_assert_cmpstr (g_type_name (type), ==, "RcDeletableNativeHandle");
}

static void
test_new (void)
{
  State state;
  Record record;
  RcDeletableNativeHandle *h;
  gpointer dog;

  state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  record_init (&record, dog);
  h = record_handle_new (dog, &record, DOG_TYPE_ID);

  g_assert_true (RC_IS_DELETABLE_NATIVE_HANDLE (h));
  g_assert_true (RC_IS_NATIVE_HANDLE (h));
  g_assert_false (g_object_is_floating (h));
  g_assert_cmpint (count_of (h), ==, 1);
  g_assert_true (rc_native_handle_get_handle (as_handle (h)) == dog);
  g_assert_cmpstr (rc_native_handle_get_type_id (as_handle (h)), ==, DOG_TYPE_ID);
  g_assert_false (rc_native_handle_is_disposed (as_handle (h)));
  g_assert_false (rc_native_handle_is_invalid (as_handle (h)));
  g_assert_cmpuint (rc_native_handle_get_live_count (), ==, state.handles + 1);
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased + 1);
  g_assert_cmpint (rc_tn_get_ref_count (dog), ==, 1);
  g_assert_cmpint (record.func_calls, ==, 0);
  g_assert_cmpint (record.notify_calls, ==, 0);

  /* Dropping the wrapper releases once: func (handle, user_data), then
   * notify (user_data). */
  g_object_unref (h);
  g_assert_cmpint (record.func_calls, ==, 1);
  g_assert_true (record.func_handle == dog);
  g_assert_true (record.func_user_data == &record);
  g_assert_cmpint (record.notify_calls, ==, 1);
  g_assert_true (record.notify_user_data == &record);
  g_assert_cmpint (record.notify_calls_at_func, ==, 0);
  g_assert_cmpint (record.func_calls_at_notify, ==, 1);
  g_assert_false (record.handle_alive_at_notify);
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased);
  state_assert_clean (&state);
}

static void
test_release_once (void)
{
  State state;
  Record record;
  FreedLog log = { { NULL, NULL }, { 0, 0 }, { 0 }, 0 };
  RcDeletableNativeHandle *h;
  gpointer dog;

  state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  record_init (&record, dog);
  log.watched[0] = dog;
  rc_tn_set_freed_callback (freed_cb, &log);
  h = record_handle_new (dog, &record, DOG_TYPE_ID);

  rc_native_handle_release (as_handle (h));
  g_assert_cmpint (record.func_calls, ==, 1);
  g_assert_true (record.func_handle == dog);
  g_assert_true (record.func_user_data == &record);
  /* notify right after the release, not only at finalize */
  g_assert_cmpint (record.notify_calls, ==, 1);
  g_assert_cmpint (record.func_calls_at_notify, ==, 1);
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_cmpint (log.freed[0], ==, 1);
  g_assert_true (rc_native_handle_is_disposed (as_handle (h)));
  g_assert_true (rc_native_handle_is_invalid (as_handle (h)));
  g_assert_null (rc_native_handle_get_handle (as_handle (h)));
  g_assert_cmpint (count_of (h), ==, 0);

  rc_native_handle_release (as_handle (h));
  rc_native_handle_dispose (as_handle (h));
  g_object_run_dispose (G_OBJECT (h));
  g_assert_cmpint (record.func_calls, ==, 1);
  g_assert_cmpint (record.notify_calls, ==, 1);

  g_object_unref (h);
  g_assert_cmpint (record.func_calls, ==, 1);
  g_assert_cmpint (record.notify_calls, ==, 1);
  g_assert_cmpint (log.freed[0], ==, 1);
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);

  rc_tn_set_freed_callback (NULL, NULL);
  state_assert_clean (&state);
}

static void
test_notify_at_finalize_never_set (void)
{
  State state;
  Record record;
  RcDeletableNativeHandle *h;

  state_begin (&state);
  record_init (&record, NULL);
  h = record_handle_new (NULL, &record, DOG_TYPE_ID);
  g_assert_nonnull (h);
  g_assert_true (rc_native_handle_is_disposed (as_handle (h)));
  g_assert_null (rc_native_handle_get_handle (as_handle (h)));

  rc_native_handle_release (as_handle (h));
  g_assert_cmpint (record.func_calls, ==, 0);
  g_assert_cmpint (record.notify_calls, ==, 0);

  g_object_unref (h);
  g_assert_cmpint (record.func_calls, ==, 0);
  g_assert_cmpint (record.notify_calls, ==, 1);
  g_assert_true (record.notify_user_data == &record);
  state_assert_clean (&state);
}

static void
test_notify_at_finalize_outstanding (void)
{
  State state;
  Record record;
  RcDeletableNativeHandle *h;
  gpointer dog;

  state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  record_init (&record, dog);
  h = record_handle_new (dog, &record, DOG_TYPE_ID);
  rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (h));

  g_object_unref (h);
  /* Never released: no func call, but the notify at finalize. */
  g_assert_cmpint (record.func_calls, ==, 0);
  g_assert_cmpint (record.notify_calls, ==, 1);
  g_assert_true (record.handle_alive_at_notify);
  g_assert_true (rc_tn_is_alive (dog));
  g_assert_cmpint (rc_tn_get_ref_count (dog), ==, 1);

  rc_tn_release (dog);
  state_assert_clean (&state);
}

static void
test_notify_null (void)
{
  State state;
  Record record;
  RcDeletableNativeHandle *h;
  gpointer dog;

  state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  record_init (&record, dog);
  h = rc_deletable_native_handle_new (dog, record_release, &record, NULL, NULL);
  g_assert_null (rc_native_handle_get_type_id (as_handle (h)));
  rc_native_handle_release (as_handle (h));
  g_assert_cmpint (record.func_calls, ==, 1);
  g_assert_cmpint (record.notify_calls, ==, 0);
  g_assert_false (rc_tn_is_alive (dog));
  g_object_unref (h);
  g_assert_cmpint (record.func_calls, ==, 1);

  /* NULL user data too. */
  dog = rc_tn_dog_new ("Rex");
  h = rc_deletable_native_handle_new (dog, release_without_data, NULL, NULL, DOG_TYPE_ID);
  release_without_data_calls = 0;
  g_object_unref (h);
  g_assert_cmpint (release_without_data_calls, ==, 1);
  g_assert_false (rc_tn_is_alive (dog));

  state_assert_clean (&state);
}

static void
test_new_null_func (void)
{
  State state;
  Record record;
  RcDeletableNativeHandle *h;
  gpointer dog;

  state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  record_init (&record, dog);

  expect_assertion ();
  h = rc_deletable_native_handle_new (dog, NULL, &record, NULL, DOG_TYPE_ID);
  g_test_assert_expected_messages ();
  g_assert_null (h);
  g_assert_cmpuint (rc_native_handle_get_live_count (), ==, state.handles);
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased);
  g_assert_true (rc_tn_is_alive (dog));
  g_assert_cmpint (rc_tn_get_ref_count (dog), ==, 1);

  rc_tn_release (dog);
  state_assert_clean (&state);
}

static void
test_new_native (void)
{
  State state;
  FreedLog log = { { NULL, NULL }, { 0, 0 }, { 0 }, 0 };
  RcDeletableNativeHandle *h;
  gpointer dog;
  char *str;

  state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  log.watched[0] = dog;
  rc_tn_set_freed_callback (freed_cb, &log);
  h = rc_deletable_native_handle_new_native (dog, native_release_address (), DOG_TYPE_ID);

  g_assert_true (RC_IS_DELETABLE_NATIVE_HANDLE (h));
  g_assert_cmpint (count_of (h), ==, 1);
  g_assert_true (rc_native_handle_get_handle (as_handle (h)) == dog);
  g_assert_cmpstr (rc_native_handle_get_type_id (as_handle (h)), ==, DOG_TYPE_ID);
  str = rc_native_handle_to_string (as_handle (h));
  g_assert_cmpstr (str, ==, "RcDeletableNativeHandle to a native pointer of type id \"DOG_PTR\"");
  g_free (str);

  rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (h));
  rc_native_handle_release (as_handle (h));
  g_assert_true (rc_tn_is_alive (dog));
  g_assert_cmpint (log.freed[0], ==, 0);

  rc_native_handle_release (as_handle (h));
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_cmpint (log.freed[0], ==, 1);
  g_assert_true (rc_native_handle_is_disposed (as_handle (h)));
  g_assert_null (rc_native_handle_get_handle (as_handle (h)));
  str = rc_native_handle_to_string (as_handle (h));
  g_assert_cmpstr (str, ==, "RcDeletableNativeHandle to a native pointer of type id \"DOG_PTR\" (disposed)");
  g_free (str);

  rc_native_handle_release (as_handle (h));
  g_object_unref (h);
  g_assert_cmpint (log.freed[0], ==, 1);
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);

  /* Dropping the wrapper releases through the address too. */
  dog = rc_tn_dog_new ("Rex");
  h = rc_deletable_native_handle_new_native (dog, native_release_address (), NULL);
  g_assert_null (rc_native_handle_get_type_id (as_handle (h)));
  g_object_unref (h);
  g_assert_false (rc_tn_is_alive (dog));

  rc_tn_set_freed_callback (NULL, NULL);
  state_assert_clean (&state);
}

static void
test_new_native_null_address (void)
{
  State state;
  RcDeletableNativeHandle *h;
  gpointer dog;

  state_begin (&state);
  dog = rc_tn_dog_new ("Rex");

  expect_assertion ();
  h = rc_deletable_native_handle_new_native (dog, NULL, DOG_TYPE_ID);
  g_test_assert_expected_messages ();
  g_assert_null (h);
  g_assert_cmpuint (rc_native_handle_get_live_count (), ==, state.handles);
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased);
  g_assert_cmpint (rc_tn_get_ref_count (dog), ==, 1);

  rc_tn_release (dog);
  state_assert_clean (&state);
}

static void
test_set_handle_later (void)
{
  State state;
  Record record;
  RcDeletableNativeHandle *h;
  gpointer dog;
  gpointer dog2;
  GError *error = NULL;

  state_begin (&state);

  /* With a callback. */
  dog = rc_tn_dog_new ("Rex");
  record_init (&record, dog);
  h = record_handle_new (NULL, &record, DOG_TYPE_ID);
  g_assert_true (rc_native_handle_set_handle (as_handle (h), dog, 1, &error));
  g_assert_no_error (error);
  g_assert_cmpint (count_of (h), ==, 2);
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased + 1);

  dog2 = rc_tn_dog_new ("Fido");
  g_assert_false (rc_native_handle_set_handle (as_handle (h), dog2, 0, &error));
  g_assert_error (error, RC_ERROR, RC_ERROR_HANDLE_ALREADY_SET);
  g_clear_error (&error);

  rc_native_handle_release (as_handle (h));
  g_assert_cmpint (record.func_calls, ==, 0);
  rc_native_handle_release (as_handle (h));
  g_assert_cmpint (record.func_calls, ==, 1);
  g_assert_true (record.func_handle == dog);
  g_assert_cmpint (record.notify_calls, ==, 1);
  g_assert_false (rc_tn_is_alive (dog));

  g_assert_false (rc_native_handle_set_handle (as_handle (h), dog2, 0, &error));
  g_assert_error (error, RC_ERROR, RC_ERROR_DISPOSED);
  g_clear_error (&error);
  g_object_unref (h);
  g_assert_cmpint (record.func_calls, ==, 1);
  g_assert_cmpint (record.notify_calls, ==, 1);

  /* By address. */
  h = rc_deletable_native_handle_new_native (NULL, native_release_address (), DOG_TYPE_ID);
  g_assert_false (rc_native_handle_set_handle (as_handle (h), NULL, 0, &error));
  g_assert_error (error, RC_ERROR, RC_ERROR_INVALID_HANDLE);
  g_clear_error (&error);
  g_assert_false (rc_native_handle_set_handle (as_handle (h), dog2, -1, &error));
  g_assert_error (error, RC_ERROR, RC_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_true (rc_tn_is_alive (dog2));
  g_assert_true (rc_native_handle_set_handle (as_handle (h), dog2, 0, &error));
  g_assert_no_error (error);
  g_object_unref (h);
  g_assert_false (rc_tn_is_alive (dog2));

  state_assert_clean (&state);
}

static void
test_properties (void)
{
  State state;
  RcDeletableNativeHandle *h;
  gpointer dog;
  gpointer handle = NULL;
  int count = -1;
  gboolean disposed = TRUE;

  state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  h = rc_deletable_native_handle_new_native (dog, native_release_address (), DOG_TYPE_ID);

  assert_handle_properties (h, dog, DOG_TYPE_ID, 1, 0, FALSE);

  rc_native_handle_dispose (as_handle (h));
  g_object_get (h,
                "handle", &handle,
                "reference-count", &count,
                "disposed", &disposed,
                NULL);
  g_assert_null (handle);
  g_assert_cmpint (count, ==, 0);
  g_assert_true (disposed);
  g_assert_false (rc_tn_is_alive (dog));

  g_object_unref (h);
  state_assert_clean (&state);
}

static void
test_acquire (void)
{
  State state;
  Record record;
  RcDeletableNativeHandle *h;
  gpointer dog;
  gpointer ptr;
  GError *error = NULL;

  state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  record_init (&record, dog);
  h = record_handle_new (dog, &record, DOG_TYPE_ID);

  ptr = rc_native_handle_acquire (as_handle (h), &error);
  g_assert_no_error (error);
  g_assert_true (ptr == dog);
  g_assert_cmpint (count_of (h), ==, 2);

  /* The wrapper is dropped while the borrow is held. */
  rc_native_handle_release (as_handle (h));
  g_assert_cmpint (record.func_calls, ==, 0);
  g_assert_cmpstr (rc_tn_dog_get_name (ptr), ==, "Rex");
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);

  rc_native_handle_release (as_handle (h));
  g_assert_cmpint (record.func_calls, ==, 1);
  g_assert_cmpint (record.notify_calls, ==, 1);
  g_assert_false (rc_tn_is_alive (dog));

  /* No resurrection. */
  g_assert_null (rc_native_handle_acquire (as_handle (h), &error));
  g_assert_error (error, RC_ERROR, RC_ERROR_DISPOSED);
  g_clear_error (&error);
  rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (h));
  g_assert_cmpint (count_of (h), ==, 0);
  rc_reference_counter_decrement_ref (RC_REFERENCE_COUNTER (h));
  g_assert_cmpint (count_of (h), ==, 0);
  rc_native_handle_release (as_handle (h));
  g_assert_cmpint (record.func_calls, ==, 1);

  g_object_unref (h);
  g_assert_cmpint (record.func_calls, ==, 1);
  g_assert_cmpint (record.notify_calls, ==, 1);
  state_assert_clean (&state);
}

static void
test_gobject_dispose (void)
{
  State state;
  Record record;
  RcDeletableNativeHandle *h;
  gpointer dog;

  state_begin (&state);

  /* run_dispose twice: one release. */
  dog = rc_tn_dog_new ("Rex");
  record_init (&record, dog);
  h = record_handle_new (dog, &record, DOG_TYPE_ID);
  g_object_run_dispose (G_OBJECT (h));
  g_object_run_dispose (G_OBJECT (h));
  g_assert_cmpint (record.func_calls, ==, 1);
  g_assert_cmpint (record.notify_calls, ==, 1);
  g_assert_false (rc_tn_is_alive (dog));
  g_object_unref (h);
  g_assert_cmpint (record.func_calls, ==, 1);
  g_assert_cmpint (record.notify_calls, ==, 1);

  /* With an extra reference: the wrapper's own reference only. */
  dog = rc_tn_dog_new ("Rex");
  record_init (&record, dog);
  h = record_handle_new (dog, &record, DOG_TYPE_ID);
  rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (h));
  g_object_run_dispose (G_OBJECT (h));
  g_object_run_dispose (G_OBJECT (h));
  g_assert_cmpint (count_of (h), ==, 1);
  g_assert_cmpint (record.func_calls, ==, 0);
  g_assert_true (rc_tn_is_alive (dog));
  rc_native_handle_release (as_handle (h));
  g_assert_cmpint (record.func_calls, ==, 1);
  g_assert_cmpint (record.notify_calls, ==, 1);
  g_assert_false (rc_tn_is_alive (dog));
  g_object_unref (h);
  g_assert_cmpint (record.notify_calls, ==, 1);

  state_assert_clean (&state);
}

static void
test_dog_owner (void)
{
  State state;
  FreedLog log = { { NULL, NULL }, { 0, 0 }, { 0 }, 0 };
  RcDeletableNativeHandle *dog_h;
  RcDeletableNativeHandle *owner_h;
  gpointer dog;
  gpointer owner;

  state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  owner = rc_tn_owner_new (dog);
  log.watched[0] = dog;
  log.watched[1] = owner;
  rc_tn_set_freed_callback (freed_cb, &log);

  dog_h = rc_deletable_native_handle_new_native (dog, native_release_address (), DOG_TYPE_ID);
  owner_h = rc_deletable_native_handle_new_native (owner, native_release_address (), OWNER_TYPE_ID);
  g_assert_cmpint (rc_tn_get_ref_count (dog), ==, 2);
  g_assert_cmpint (rc_tn_get_ref_count (owner), ==, 1);

  /* The dog handle is dropped first: the dog survives natively. */
  g_object_unref (dog_h);
  g_assert_true (rc_tn_is_alive (dog));
  g_assert_cmpint (rc_tn_get_ref_count (dog), ==, 1);
  g_assert_cmpint (log.freed[0], ==, 0);
  g_assert_true (rc_tn_owner_get_dog (owner) == dog);
  g_assert_cmpint (rc_tn_owner_walk (owner), ==, 1);
  g_assert_cmpint (rc_tn_misuse_count (), ==, 0);

  /* Then the owner: both freed, owner first, each once. */
  g_object_unref (owner_h);
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
test_dog_owner_reverse (void)
{
  State state;
  RcDeletableNativeHandle *dog_h;
  RcDeletableNativeHandle *owner_h;
  gpointer dog;
  gpointer owner;

  /* The owner handle is dropped first: the owner is freed and gives back
   * its dog reference; the dog handle still keeps the dog. */
  state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  owner = rc_tn_owner_new (dog);
  dog_h = rc_deletable_native_handle_new_native (dog, native_release_address (), DOG_TYPE_ID);
  owner_h = rc_deletable_native_handle_new_native (owner, native_release_address (), OWNER_TYPE_ID);

  g_object_unref (owner_h);
  g_assert_false (rc_tn_is_alive (owner));
  g_assert_true (rc_tn_is_alive (dog));
  g_assert_cmpint (rc_tn_get_ref_count (dog), ==, 1);
  g_assert_cmpstr (rc_tn_dog_get_name (rc_native_handle_get_handle (as_handle (dog_h))), ==, "Rex");

  g_object_unref (dog_h);
  g_assert_false (rc_tn_is_alive (dog));
  state_assert_clean (&state);
}

static void
test_croc (void)
{
  State state;
  RcDeletableNativeHandle *croc_h;
  RcDeletableNativeHandle *dog_h;
  gpointer croc;
  gpointer dog;
  gpointer ptr;
  int crocs;

  /* Two handles used together through borrows. */
  state_begin (&state);
  crocs = rc_tn_croc_live_count ();
  croc = rc_tn_croc_new ();
  dog = rc_tn_dog_new ("Rex");
  croc_h = rc_deletable_native_handle_new_native (croc, native_release_address (), "CROC_PTR");
  dog_h = rc_deletable_native_handle_new_native (dog, native_release_address (), DOG_TYPE_ID);

  ptr = rc_native_handle_acquire (as_handle (dog_h), NULL);
  g_assert_cmpint (rc_tn_croc_eat (rc_native_handle_get_handle (as_handle (croc_h)), ptr), ==, 1);
  rc_native_handle_release (as_handle (dog_h));
  g_assert_true (rc_tn_is_alive (dog));

  g_object_unref (dog_h);
  g_object_unref (croc_h);
  g_assert_false (rc_tn_is_alive (dog));
  g_assert_false (rc_tn_is_alive (croc));
  g_assert_cmpint (rc_tn_croc_live_count (), ==, crocs);
  state_assert_clean (&state);
}

static void
test_live_and_unreleased_counts (void)
{
  State state;
  Record record;
  RcDeletableNativeHandle *h1;
  RcDeletableNativeHandle *h2;
  gpointer dog;

  state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  record_init (&record, dog);
  h1 = record_handle_new (dog, &record, DOG_TYPE_ID);
  h2 = rc_deletable_native_handle_new_native (NULL, native_release_address (), NULL);
  g_assert_cmpuint (rc_native_handle_get_live_count (), ==, state.handles + 2);
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased + 1);

  rc_native_handle_release (as_handle (h1));
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased);
  g_assert_cmpuint (rc_native_handle_get_live_count (), ==, state.handles + 2);

  g_object_unref (h1);
  g_assert_cmpuint (rc_native_handle_get_live_count (), ==, state.handles + 1);
  g_object_unref (h2);
  g_assert_cmpuint (rc_native_handle_get_live_count (), ==, state.handles);
  g_assert_cmpuint (rc_native_handle_get_unreleased_count (), ==, state.unreleased);
  state_assert_clean (&state);
}

static void
test_to_string_pointer (void)
{
  State state;
  RcDeletableNativeHandle *h;
  gpointer dog;
  char *str;
  char *expected;

  state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  h = rc_deletable_native_handle_new_native (dog, native_release_address (), NULL);
  str = rc_native_handle_to_string (as_handle (h));
  expected = g_strdup_printf ("RcDeletableNativeHandle to a native pointer %p", dog);
  g_assert_cmpstr (str, ==, expected);
  g_free (str);
  g_free (expected);

  rc_native_handle_release (as_handle (h));
  str = rc_native_handle_to_string (as_handle (h));
  g_assert_true (g_str_has_prefix (str, "RcDeletableNativeHandle to a native pointer "));
  g_assert_true (g_str_has_suffix (str, " (disposed)"));
  g_free (str);
  g_object_unref (h);
  state_assert_clean (&state);
}

static void
test_leak_warning (void)
{
  if (g_test_subprocess ())
    {
      Record record;
      RcDeletableNativeHandle *h;
      gpointer dog;

      g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
      dog = rc_tn_dog_new ("Rex");
      record_init (&record, dog);
      h = record_handle_new (dog, &record, DOG_TYPE_ID);
      rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (h));
      rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (h));
      g_object_unref (h);
      g_assert_cmpint (record.func_calls, ==, 0);
      g_assert_cmpint (record.notify_calls, ==, 1);
      g_assert_true (rc_tn_is_alive (dog));
      rc_tn_release (dog);
      g_assert_cmpint (rc_tn_misuse_count (), ==, 0);
      return;
    }

  g_setenv ("RC_DEBUG", "leaks", TRUE);
  g_test_trap_subprocess (NULL, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_setenv ("RC_DEBUG", "", TRUE);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*Native handle of type id \"DOG_PTR\" leaked with 2 outstanding reference*");
}

static void
test_null_self (void)
{
  /* The inherited methods reject a NULL handle. */
  expect_assertion ();
  rc_native_handle_release (NULL);
  g_test_assert_expected_messages ();

  expect_assertion ();
  (void) rc_reference_counter_get_reference_count (NULL);
  g_test_assert_expected_messages ();
}

/* A handle made by g_object_new(), as bindings do, gets its release
 * function afterwards; only once. */
static void
test_set_release (void)
{
  State state;
  Record record;
  Record second;
  RcDeletableNativeHandle *h;
  gpointer dog;

  state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  record_init (&record, dog);
  record_init (&second, NULL);
  h = g_object_new (RC_TYPE_DELETABLE_NATIVE_HANDLE, "handle", dog, "type-id", DOG_TYPE_ID, NULL);
  g_assert_true (rc_deletable_native_handle_set_release (h, record_release, &record, record_notify));

  /* A second function is refused, and its data freed at once. */
  g_test_expect_message ("Refcount", G_LOG_LEVEL_CRITICAL, "*already has a release function*");
  g_assert_false (rc_deletable_native_handle_set_release (h, record_release, &second, record_notify));
  g_test_assert_expected_messages ();
  g_assert_cmpint (second.notify_calls, ==, 1);
  g_assert_cmpint (second.func_calls, ==, 0);
  g_test_expect_message ("Refcount", G_LOG_LEVEL_CRITICAL, "*already has a release function*");
  g_assert_false (rc_deletable_native_handle_set_release_native (h, native_release_address ()));
  g_test_assert_expected_messages ();

  g_assert_true (rc_tn_is_alive (dog));
  rc_native_handle_release (as_handle (h));
  g_assert_cmpint (record.func_calls, ==, 1);
  g_assert_true (record.func_handle == dog);
  g_assert_cmpint (record.notify_calls, ==, 1);
  g_assert_false (rc_tn_is_alive (dog));
  g_object_unref (h);
  g_assert_cmpint (record.func_calls, ==, 1);
  state_assert_all_released (&state);
}

static void
test_set_release_native (void)
{
  State state;
  RcDeletableNativeHandle *h;
  GError *error = NULL;
  gpointer dog;

  state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  h = g_object_new (RC_TYPE_DELETABLE_NATIVE_HANDLE, NULL);
  g_assert_true (rc_deletable_native_handle_set_release_native (h, native_release_address ()));
  g_assert_true (rc_native_handle_set_handle (as_handle (h), dog, 0, &error));
  g_assert_no_error (error);
  g_object_unref (h);   /* the last reference: released natively */
  g_assert_false (rc_tn_is_alive (dog));
  state_assert_all_released (&state);

  /* Refused arguments. */
  h = g_object_new (RC_TYPE_DELETABLE_NATIVE_HANDLE, NULL);
  expect_assertion ();
  g_assert_false (rc_deletable_native_handle_set_release_native (h, NULL));
  g_test_assert_expected_messages ();
  expect_assertion ();
  g_assert_false (rc_deletable_native_handle_set_release (h, NULL, NULL, NULL));
  g_test_assert_expected_messages ();
  expect_assertion ();
  g_assert_false (rc_deletable_native_handle_set_release (NULL, record_release, NULL, NULL));
  g_test_assert_expected_messages ();
  g_object_unref (h);
  state_assert_clean (&state);
}

/* Never given a release function: the release is reported, not a crash,
 * and the native object is left to its owner. */
static void
test_no_release_function (void)
{
  State state;
  RcDeletableNativeHandle *h;
  gpointer dog;

  state_begin (&state);
  dog = rc_tn_dog_new ("Rex");
  h = g_object_new (RC_TYPE_DELETABLE_NATIVE_HANDLE, "handle", dog, "type-id", DOG_TYPE_ID, NULL);
  g_test_expect_message ("Refcount", G_LOG_LEVEL_CRITICAL, "*type id \"DOG_PTR\" has no release function*");
  rc_native_handle_release (as_handle (h));
  g_test_assert_expected_messages ();
  g_assert_true (rc_native_handle_is_disposed (as_handle (h)));
  g_assert_true (rc_tn_is_alive (dog));
  g_object_unref (h);
  rc_tn_release (dog);
  state_assert_clean (&state);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/deletable-native-handle/type", test_type);
  g_test_add_func ("/deletable-native-handle/new", test_new);
  g_test_add_func ("/deletable-native-handle/release-once", test_release_once);
  g_test_add_func ("/deletable-native-handle/notify-at-finalize-never-set", test_notify_at_finalize_never_set);
  g_test_add_func ("/deletable-native-handle/notify-at-finalize-outstanding", test_notify_at_finalize_outstanding);
  g_test_add_func ("/deletable-native-handle/notify-null", test_notify_null);
  g_test_add_func ("/deletable-native-handle/new-null-func", test_new_null_func);
  g_test_add_func ("/deletable-native-handle/new-native", test_new_native);
  g_test_add_func ("/deletable-native-handle/new-native-null-address", test_new_native_null_address);
  g_test_add_func ("/deletable-native-handle/set-handle-later", test_set_handle_later);
  g_test_add_func ("/deletable-native-handle/set-release", test_set_release);
  g_test_add_func ("/deletable-native-handle/set-release-native", test_set_release_native);
  g_test_add_func ("/deletable-native-handle/no-release-function", test_no_release_function);
  g_test_add_func ("/deletable-native-handle/properties", test_properties);
  g_test_add_func ("/deletable-native-handle/acquire", test_acquire);
  g_test_add_func ("/deletable-native-handle/gobject-dispose", test_gobject_dispose);
  g_test_add_func ("/deletable-native-handle/dog-owner", test_dog_owner);
  g_test_add_func ("/deletable-native-handle/dog-owner-reverse", test_dog_owner_reverse);
  g_test_add_func ("/deletable-native-handle/croc", test_croc);
  g_test_add_func ("/deletable-native-handle/live-and-unreleased-counts", test_live_and_unreleased_counts);
  g_test_add_func ("/deletable-native-handle/to-string-pointer", test_to_string_pointer);
  g_test_add_func ("/deletable-native-handle/leak-warning", test_leak_warning);
  g_test_add_func ("/deletable-native-handle/null-self", test_null_self);

  return g_test_run ();
}
