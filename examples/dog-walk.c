/* dog-walk.c: a dog, its owner, and who frees what
 *
 * SPDX-License-Identifier: MIT
 *
 * The scenario of the reference manual's overview, played end to end against
 * the test native library (tests/testlib), a stand-in for a third-party C API
 * with opaque, natively reference-counted pointers:
 *
 *   1. a dog is created natively and wrapped in a handle that releases it with
 *      the native release function, given by address;
 *   2. an owner is created natively that borrows the dog: the C API takes no
 *      reference of its own and asks the caller to keep the dog alive as long
 *      as the owner (rc_tn_owner_new_borrowing()). The owner is wrapped too,
 *      and its handle declares the dog's handle as a dependency;
 *   3. the owner walks the dog, borrowing the owner pointer from its handle;
 *   4. the dog's handle is dropped first: the dog is not released, since the
 *      owner's handle holds a reference on it;
 *   5. the owner walks again;
 *   6. the owner's handle is dropped: the owner is released, and right after
 *      it the dog.
 *
 * Every step prints the counts, and the program checks them against the
 * native library's ground truth: it exits with a non-zero status if an
 * object is freed too early, left alive at the end, or misused.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <refcount/refcount.h>

#include "rc-test-native.h"

static int failures = 0;

/* The native objects in the order they were freed. */
static void *freed_order[2];
static int n_freed;

static void
on_freed (void *obj,
          int   kind,
          void *user_data)
{
  if (n_freed < (int) G_N_ELEMENTS (freed_order))
    freed_order[n_freed] = obj;
  n_freed++;
}

static void expect (gboolean    condition,
                    const char *format,
                    ...) G_GNUC_PRINTF (2, 3);

/* Records and reports a broken expectation; the program goes on so that the
 * rest of the story (and every later failure) is still shown.  Going on is
 * safe: the native library never dereferences a pointer that is not live. */
static void
expect (gboolean    condition,
        const char *format,
        ...)
{
  va_list args;

  if (condition)
    return;

  failures++;
  fputs ("  FAIL: ", stderr);
  va_start (args, format);
  vfprintf (stderr, format, args);
  va_end (args);
  fputc ('\n', stderr);
}

static void
print_native (const char *what,
              void       *obj)
{
  if (rc_tn_is_alive (obj))
    g_print ("  native %-5s alive, native ref count %d\n",
             what, rc_tn_get_ref_count (obj));
  else
    g_print ("  native %-5s freed\n", what);
}

static void
print_handle (const char     *what,
              RcNativeHandle *handle)
{
  g_autofree char *description = rc_native_handle_to_string (handle);

  g_print ("  handle %-5s %s: reference count %d\n",
           what, description,
           rc_reference_counter_get_reference_count (RC_REFERENCE_COUNTER (handle)));
}

static void
print_live_counts (guint handles_before)
{
  g_print ("  live: %d native dog(s), %d native owner(s), %u handle(s)\n",
           rc_tn_dog_live_count (), rc_tn_owner_live_count (),
           rc_native_handle_get_live_count () - handles_before);
}

/* Walks the dog, holding a borrow on the owner's handle for the duration of
 * the native call: the pointer cannot be released under our feet. */
static int
walk (RcNativeHandle *owner_handle)
{
  g_autoptr(GError) error = NULL;
  void *owner;
  int walks;

  owner = rc_native_handle_acquire (owner_handle, &error);
  if (owner == NULL)
    {
      expect (FALSE, "could not borrow the owner: %s", error->message);
      return -1;
    }

  g_print ("  borrowed the owner: handle reference count %d during the walk\n",
           rc_reference_counter_get_reference_count (RC_REFERENCE_COUNTER (owner_handle)));
  walks = rc_tn_owner_walk (owner);
  rc_native_handle_release (owner_handle);

  return walks;
}

int
main (void)
{
  g_autoptr(GError) error = NULL;
  RcNativeHandle *dog_handle;
  RcNativeHandle *owner_handle;
  guint handles_before;
  long misuse_before;
  void *dog;
  void *owner;
  int walks;

  handles_before = rc_native_handle_get_live_count ();
  misuse_before = rc_tn_misuse_count ();
  rc_tn_set_freed_callback (on_freed, NULL);

  g_print ("1. A dog is born (natively) and wrapped in a handle\n");
  dog = rc_tn_dog_new ("Rex");
  if (dog == NULL)
    {
      g_printerr ("dog-walk: out of memory\n");
      return EXIT_FAILURE;
    }
  /* The handle takes over the reference the dog was created with, and
   * releases it with the native function, called from C, never from a
   * language runtime. */
  dog_handle = RC_NATIVE_HANDLE (rc_deletable_native_handle_new_native (dog, (gpointer) rc_tn_release, "DOG_PTR"));
  print_native ("dog", dog);
  print_handle ("dog", dog_handle);
  print_live_counts (handles_before);
  expect (rc_tn_get_ref_count (dog) == 1, "the dog should have 1 native reference, it has %d",
          rc_tn_get_ref_count (dog));
  expect (rc_reference_counter_get_reference_count (RC_REFERENCE_COUNTER (dog_handle)) == 1,
          "the dog's handle should count 1 reference");

  g_print ("\n2. An owner borrows the dog; its handle declares the dog's as a dependency\n");
  /* The native owner takes no reference to its dog: the dog must outlive
   * it, and that is now the owner's handle's business. */
  owner = rc_tn_owner_new_borrowing (dog);
  if (owner == NULL)
    {
      g_printerr ("dog-walk: out of memory\n");
      return EXIT_FAILURE;
    }
  owner_handle = RC_NATIVE_HANDLE (rc_deletable_native_handle_new_native (owner, (gpointer) rc_tn_release, "OWNER_PTR"));
  if (!rc_native_handle_add_dependency (owner_handle, dog_handle, &error))
    {
      expect (FALSE, "the owner could not take its dog as a dependency: %s", error->message);
      g_clear_error (&error);
    }
  print_native ("dog", dog);
  print_native ("owner", owner);
  print_handle ("dog", dog_handle);
  print_handle ("owner", owner_handle);
  print_live_counts (handles_before);
  expect (rc_tn_get_ref_count (dog) == 1,
          "the dog should still have 1 native reference (its handle's), it has %d",
          rc_tn_get_ref_count (dog));
  expect (rc_reference_counter_get_reference_count (RC_REFERENCE_COUNTER (dog_handle)) == 2,
          "the dog's handle should count 2 references (its own, the owner's)");

  g_print ("\n3. The owner walks the dog\n");
  walks = walk (owner_handle);
  g_print ("  walks so far: %d\n", walks);
  expect (walks == 1, "the first walk should return 1, got %d", walks);
  print_handle ("owner", owner_handle);

  g_print ("\n4. The program drops the dog's handle first\n");
  /* Our reference to the handle object goes, and with it the wrapper's
   * own count; the owner's handle still holds the dog's, and the object. */
  g_object_unref (dog_handle);
  dog_handle = NULL;
  print_native ("dog", dog);
  print_native ("owner", owner);
  print_live_counts (handles_before);
  expect (rc_tn_is_alive (dog), "the dog was freed too early: its owner still uses it");
  expect (rc_tn_get_ref_count (dog) == 1,
          "the dog should still have its 1 native reference, it has %d",
          rc_tn_get_ref_count (dog));

  g_print ("\n5. The owner walks the dog again\n");
  walks = walk (owner_handle);
  g_print ("  walks so far: %d\n", walks);
  expect (walks == 2, "the second walk should return 2, got %d", walks);

  g_print ("\n6. The owner's handle is dropped\n");
  /* The owner is released, then, right after, its dependency: the dog. */
  g_object_unref (owner_handle);
  owner_handle = NULL;
  print_native ("dog", dog);
  print_native ("owner", owner);
  print_live_counts (handles_before);
  g_print ("  freed: first the %s, then the %s\n",
           freed_order[0] == owner ? "owner" : "dog",
           freed_order[1] == dog ? "dog" : "owner");
  expect (n_freed == 2 && freed_order[0] == owner && freed_order[1] == dog,
          "the owner should be freed first, then its dog");
  expect (!rc_tn_is_alive (owner), "the owner is still alive after its handle was dropped");
  expect (!rc_tn_is_alive (dog), "the dog is still alive after its owner was freed");
  expect (rc_tn_live_count () == 0, "%d native object(s) leaked", rc_tn_live_count ());
  expect (rc_native_handle_get_live_count () == handles_before,
          "%u handle(s) still alive", rc_native_handle_get_live_count () - handles_before);
  expect (rc_tn_misuse_count () == misuse_before,
          "%ld misuse(s) of the native API (double release, use after free...)",
          rc_tn_misuse_count () - misuse_before);

  g_print ("\nmisuses of the native API: %ld\n", rc_tn_misuse_count () - misuse_before);
  rc_tn_set_freed_callback (NULL, NULL);

  if (failures > 0)
    {
      g_printerr ("dog-walk: %d check(s) failed\n", failures);
      return EXIT_FAILURE;
    }

  g_print ("Every native object was freed exactly once, and none too early.\n");
  return EXIT_SUCCESS;
}
