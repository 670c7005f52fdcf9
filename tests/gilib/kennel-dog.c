/* kennel-dog.c: a native dog in an RcNativeHandle
 *
 * SPDX-License-Identifier: MIT
 */

#include "kennel.h"

#include "rc-test-native.h"

/**
 * KennelDog:
 *
 * A dog of the native C API. Its native pointer is released with the C
 * API's own release function, once, when the last reference to the handle
 * is given back.
 */
struct _KennelDog
{
  RcNativeHandle parent_instance;
};

G_DEFINE_FINAL_TYPE (KennelDog, kennel_dog, RC_TYPE_NATIVE_HANDLE)

/* The whole of the lifetime logic a subclass writes: how to release its
 * pointer.  refcount calls it once, outside any lock, when the count reaches
 * zero, whichever language or thread gave back the last reference. */
static gboolean
kennel_dog_release_handle (RcNativeHandle *handle)
{
  rc_tn_release (rc_native_handle_get_handle (handle));
  return TRUE;
}

static void
kennel_dog_class_init (KennelDogClass *klass)
{
  RC_NATIVE_HANDLE_CLASS (klass)->release_handle = kennel_dog_release_handle;
}

static void
kennel_dog_init (KennelDog *self)
{
}

/**
 * kennel_dog_new:
 * @name: (nullable): the dog's name
 *
 * Creates a native dog and wraps it. The new handle holds one reference,
 * the caller's; the native dog is released when it is given back (by
 * rc_native_handle_release(), or by dropping the object).
 *
 * Returns: (transfer full): a new #KennelDog
 */
KennelDog *
kennel_dog_new (const char *name)
{
  void *dog = rc_tn_dog_new (name);

  if (dog == NULL)
    g_error ("kennel: out of memory creating a dog");

  return g_object_new (KENNEL_TYPE_DOG,
                       "handle", dog,
                       "type-id", "DOG_PTR",
                       NULL);
}

/**
 * kennel_dog_dup_name:
 * @self: a #KennelDog
 * @error: return location for a #GError
 *
 * Gets the dog's name, borrowing the native pointer for the call.
 *
 * Returns: (transfer full) (nullable): the name, or %NULL with @error set
 *   (%RC_ERROR_DISPOSED) if the dog was released
 */
char *
kennel_dog_dup_name (KennelDog  *self,
                     GError    **error)
{
  char *name;
  void *dog;

  g_return_val_if_fail (KENNEL_IS_DOG (self), NULL);

  dog = rc_native_handle_acquire (RC_NATIVE_HANDLE (self), error);
  if (dog == NULL)
    return NULL;
  name = g_strdup (rc_tn_dog_get_name (dog));
  rc_native_handle_release (RC_NATIVE_HANDLE (self));

  return name;
}

/**
 * kennel_get_live_dog_count:
 *
 * The native C API's count of live dogs (a test library's ground truth).
 *
 * Returns: the number of native dogs not freed yet
 */
int
kennel_get_live_dog_count (void)
{
  return rc_tn_dog_live_count ();
}

/**
 * kennel_get_live_owner_count:
 *
 * The native C API's count of live owners.
 *
 * Returns: the number of native owners not freed yet
 */
int
kennel_get_live_owner_count (void)
{
  return rc_tn_owner_live_count ();
}

/**
 * kennel_get_misuse_count:
 *
 * The native C API's count of calls made with a pointer that was not a
 * live object (double release, use after free).
 *
 * Returns: the number of misuses detected so far
 */
long
kennel_get_misuse_count (void)
{
  return rc_tn_misuse_count ();
}
