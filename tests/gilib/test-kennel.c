/* test-kennel.c: the dog and owner scenario through Kennel, from C
 *
 * SPDX-License-Identifier: MIT
 *
 * Kennel (kennel.h) is a GObject library whose classes derive from
 * RcNativeHandle; the test native library's counts are the ground truth.
 */

#include "kennel.h"

#include "../test-common.h"

/* The library's census functions read the native library's counters. */
static void
test_census (void)
{
  State state;
  KennelDog *dog;

  state_begin (&state);
  dog = kennel_dog_new ("Rex");
  g_assert_cmpint (kennel_get_live_dog_count (), ==, rc_tn_dog_live_count ());
  g_assert_cmpint (kennel_get_live_dog_count (), ==, state.dogs + 1);
  g_assert_cmpint (kennel_get_live_owner_count (), ==, state.owners);
  g_assert_cmpint (kennel_get_misuse_count (), ==, 0);
  g_object_unref (dog);
  state_assert_all_released (&state);
}

/* A dog alone: released once, when the object is dropped. */
static void
test_dog_release (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  FreedLog log = { 0 };
  State state;
  KennelDog *dog;

  state_begin (&state);
  dog = kennel_dog_new ("Rex");
  g_assert_true (RC_IS_NATIVE_HANDLE (dog));
  g_assert_cmpstr (rc_native_handle_get_type_id (RC_NATIVE_HANDLE (dog)), ==, "DOG_PTR");
  g_assert_cmpint (count_of (dog), ==, 1);
  name = kennel_dog_dup_name (dog, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (name, ==, "Rex");

  log.watched[0] = rc_native_handle_get_handle (RC_NATIVE_HANDLE (dog));
  rc_tn_set_freed_callback (freed_cb, &log);
  g_object_unref (dog);
  rc_tn_set_freed_callback (NULL, NULL);
  g_assert_cmpint (log.freed[0], ==, 1);
  state_assert_all_released (&state);
}

/* The caller gives back its reference to the dog first: the owner's
 * dependency keeps the dog's handle open and its native dog alive; the
 * owner's release then releases the owner, and right after it the dog. */
static void
test_owner_keeps_dog (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  FreedLog log = { 0 };
  State state;
  KennelDog *dog;
  KennelDogOwner *owner;

  state_begin (&state);
  dog = kennel_dog_new ("Rex");
  owner = kennel_dog_owner_new (dog, &error);
  g_assert_no_error (error);
  g_assert_true (kennel_dog_owner_get_dog (owner) == dog);
  g_assert_cmpint (count_of (dog), ==, 2);
  g_assert_cmpint (kennel_dog_owner_walk (owner, &error), ==, 1);
  g_assert_no_error (error);

  log.watched[0] = rc_native_handle_get_handle (RC_NATIVE_HANDLE (owner));
  log.watched[1] = rc_native_handle_get_handle (RC_NATIVE_HANDLE (dog));
  rc_tn_set_freed_callback (freed_cb, &log);

  /* The creator's reference, given back explicitly while the object lives. */
  rc_native_handle_release (RC_NATIVE_HANDLE (dog));
  g_assert_false (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (dog)));
  g_assert_cmpint (count_of (dog), ==, 1);
  name = kennel_dog_dup_name (dog, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (name, ==, "Rex");
  g_assert_cmpint (kennel_dog_owner_walk (owner, &error), ==, 2);
  g_assert_no_error (error);
  g_assert_cmpint (log.freed[1], ==, 0);

  /* Dropping the owner releases it, then its dependency, the dog. */
  g_object_unref (owner);
  g_assert_cmpint (log.freed[0], ==, 1);
  g_assert_cmpint (log.freed[1], ==, 1);
  g_assert_cmpint (log.n_order, ==, 2);
  g_assert_cmpint (log.order[0], ==, 0);
  g_assert_cmpint (log.order[1], ==, 1);
  g_assert_true (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (dog)));
  rc_tn_set_freed_callback (NULL, NULL);

  g_object_unref (dog);
  state_assert_all_released (&state);
}

/* The dog object is dropped first: it stays alive (the owner holds it), and
 * both go when the owner does, the owner first. */
static void
test_drop_dog_first (void)
{
  g_autoptr(GError) error = NULL;
  FreedLog log = { 0 };
  State state;
  KennelDog *dog;
  KennelDogOwner *owner;

  state_begin (&state);
  dog = kennel_dog_new ("Fido");
  owner = kennel_dog_owner_new (dog, &error);
  g_assert_no_error (error);
  log.watched[0] = rc_native_handle_get_handle (RC_NATIVE_HANDLE (owner));
  log.watched[1] = rc_native_handle_get_handle (RC_NATIVE_HANDLE (dog));
  rc_tn_set_freed_callback (freed_cb, &log);

  g_object_unref (dog);
  g_assert_cmpint (log.freed[1], ==, 0);
  g_assert_cmpint (rc_tn_dog_live_count (), ==, state.dogs + 1);
  g_assert_cmpint (kennel_dog_owner_walk (owner, &error), ==, 1);
  g_assert_no_error (error);

  g_object_unref (owner);
  rc_tn_set_freed_callback (NULL, NULL);
  g_assert_cmpint (log.n_order, ==, 2);
  g_assert_cmpint (log.order[0], ==, 0);
  g_assert_cmpint (log.order[1], ==, 1);
  state_assert_all_released (&state);
}

/* The owner dropped first, the dog object kept: the dog's handle stays open
 * for its creator, and goes when the creator drops it. */
static void
test_drop_owner_first (void)
{
  g_autoptr(GError) error = NULL;
  State state;
  KennelDog *dog;
  KennelDogOwner *owner;

  state_begin (&state);
  dog = kennel_dog_new ("Rex");
  owner = kennel_dog_owner_new (dog, &error);
  g_assert_no_error (error);

  g_object_unref (owner);
  g_assert_cmpint (rc_tn_owner_live_count (), ==, state.owners);
  g_assert_cmpint (rc_tn_dog_live_count (), ==, state.dogs + 1);
  g_assert_false (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (dog)));
  g_assert_cmpint (count_of (dog), ==, 1);

  g_object_unref (dog);
  state_assert_all_released (&state);
}

/* A released dog cannot be owned: the error, and no native owner made. */
static void
test_owner_of_released_dog (void)
{
  g_autoptr(GError) error = NULL;
  State state;
  KennelDog *dog;
  KennelDogOwner *owner;

  state_begin (&state);
  dog = kennel_dog_new ("Rex");
  rc_native_handle_release (RC_NATIVE_HANDLE (dog));
  g_assert_true (rc_native_handle_is_disposed (RC_NATIVE_HANDLE (dog)));

  owner = kennel_dog_owner_new (dog, &error);
  g_assert_null (owner);
  g_assert_error (error, RC_ERROR, RC_ERROR_DISPOSED);
  g_assert_cmpint (rc_tn_owner_live_count (), ==, state.owners);

  g_object_unref (dog);
  state_assert_all_released (&state);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/kennel/census", test_census);
  g_test_add_func ("/kennel/dog/release", test_dog_release);
  g_test_add_func ("/kennel/owner/keeps-dog", test_owner_keeps_dog);
  g_test_add_func ("/kennel/owner/drop-dog-first", test_drop_dog_first);
  g_test_add_func ("/kennel/owner/drop-owner-first", test_drop_owner_first);
  g_test_add_func ("/kennel/owner/of-released-dog", test_owner_of_released_dog);

  return g_test_run ();
}
