/* kennel-dog-owner.c: a native owner of a dog, which keeps its dog alive
 *
 * SPDX-License-Identifier: MIT
 */

#include "kennel.h"

#include "rc-test-native.h"

/**
 * KennelDogOwner:
 *
 * An owner of a #KennelDog. It declares its dog as a dependency
 * (rc_native_handle_add_dependency()): the dog's handle is not released
 * before the owner's, whichever is dropped first and from whichever
 * language.
 */
struct _KennelDogOwner
{
  RcNativeHandle parent_instance;

  KennelDog *dog;
};

G_DEFINE_FINAL_TYPE (KennelDogOwner, kennel_dog_owner, RC_TYPE_NATIVE_HANDLE)

/* Only the owner's own pointer: the dog is given back by refcount right
 * after this returns TRUE, as a declared dependency. */
static gboolean
kennel_dog_owner_release_handle (RcNativeHandle *handle)
{
  rc_tn_release (rc_native_handle_get_handle (handle));
  return TRUE;
}

static void
kennel_dog_owner_dispose (GObject *object)
{
  KennelDogOwner *self = KENNEL_DOG_OWNER (object);

  /* The chain-up gives back the wrapper's reference, which may release the
   * owner (and then its dependency); this object reference is only for
   * kennel_dog_owner_get_dog(). */
  G_OBJECT_CLASS (kennel_dog_owner_parent_class)->dispose (object);
  g_clear_object (&self->dog);
}

static void
kennel_dog_owner_class_init (KennelDogOwnerClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = kennel_dog_owner_dispose;
  RC_NATIVE_HANDLE_CLASS (klass)->release_handle = kennel_dog_owner_release_handle;
}

static void
kennel_dog_owner_init (KennelDogOwner *self)
{
}

/**
 * kennel_dog_owner_new:
 * @dog: the dog to own
 * @error: return location for a #GError
 *
 * Creates a native owner of @dog and wraps it. The owner holds a reference
 * on @dog's handle until its own native pointer is released.
 *
 * Returns: (transfer full) (nullable): a new #KennelDogOwner, or %NULL with
 *   @error set (%RC_ERROR_DISPOSED) if @dog was already released
 */
KennelDogOwner *
kennel_dog_owner_new (KennelDog  *dog,
                      GError    **error)
{
  g_autoptr(KennelDogOwner) self = NULL;
  void *native_dog;
  void *owner;

  g_return_val_if_fail (KENNEL_IS_DOG (dog), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* A borrow keeps the dog's pointer valid while the native owner is made
   * from it, even if another thread gives back the dog meanwhile. */
  native_dog = rc_native_handle_acquire (RC_NATIVE_HANDLE (dog), error);
  if (native_dog == NULL)
    return NULL;

  owner = rc_tn_owner_new (native_dog);
  if (owner == NULL)
    g_error ("kennel: out of memory creating an owner");

  self = g_object_new (KENNEL_TYPE_DOG_OWNER,
                       "handle", owner,
                       "type-id", "DOG_OWNER_PTR",
                       NULL);
  self->dog = g_object_ref (dog);

  /* From here on the owner holds one counted reference on the dog: the
   * borrow can be given back. */
  if (!rc_native_handle_add_dependency (RC_NATIVE_HANDLE (self), RC_NATIVE_HANDLE (dog), error))
    {
      rc_native_handle_release (RC_NATIVE_HANDLE (dog));
      return NULL;
    }
  rc_native_handle_release (RC_NATIVE_HANDLE (dog));

  return g_steal_pointer (&self);
}

/**
 * kennel_dog_owner_get_dog:
 * @self: a #KennelDogOwner
 *
 * Gets the owner's dog.
 *
 * Returns: (transfer none) (nullable): the dog, or %NULL once the owner
 *   object is disposed
 */
KennelDog *
kennel_dog_owner_get_dog (KennelDogOwner *self)
{
  g_return_val_if_fail (KENNEL_IS_DOG_OWNER (self), NULL);

  return self->dog;
}

/**
 * kennel_dog_owner_walk:
 * @self: a #KennelDogOwner
 * @error: return location for a #GError
 *
 * Takes the dog for a walk, borrowing the owner's pointer for the call.
 *
 * Returns: the number of walks done so far (1 for the first), or -1 with
 *   @error set (%RC_ERROR_DISPOSED) if the owner was released
 */
int
kennel_dog_owner_walk (KennelDogOwner  *self,
                       GError         **error)
{
  void *owner;
  int walks;

  g_return_val_if_fail (KENNEL_IS_DOG_OWNER (self), -1);

  owner = rc_native_handle_acquire (RC_NATIVE_HANDLE (self), error);
  if (owner == NULL)
    return -1;
  walks = rc_tn_owner_walk (owner);
  rc_native_handle_release (RC_NATIVE_HANDLE (self));

  if (walks < 0)
    g_set_error_literal (error, RC_ERROR, RC_ERROR_FAILED, "The owner's dog is gone");
  return walks;
}
