/* rc-deletable-native-handle.c
 *
 * SPDX-License-Identifier: MIT
 */

#include "config.h"

#include "rc-deletable-native-handle.h"
#include "rc-library-pin-private.h"
#include "rc-native-handle-private.h"

/**
 * SECTION:rc-deletable-native-handle
 * @Title: RcDeletableNativeHandle
 * @Short_description: a handle released by a given function
 *
 * #RcDeletableNativeHandle is the ready-made #RcNativeHandle for the common
 * case: a C API gives a pointer and a function to release it. The function
 * is called once, when the count reaches zero.
 *
 * rc_deletable_native_handle_new_native() takes the release function as a
 * plain address of a `void f (void *)`: this is the path for Python users
 * (an address from cffi, ctypes or dlsym). Releasing then never enters the
 * interpreter, so it is fast and safe even at interpreter shutdown.
 *
 * |[<!-- language="C" -->
 * RcDeletableNativeHandle *dog =
 *   rc_deletable_native_handle_new_native (dog_new ("Rex"), (gpointer) dog_release, "DOG_PTR");
 *
 * dog_walk (rc_native_handle_get_handle (RC_NATIVE_HANDLE (dog)));
 * g_object_unref (dog);   // the wrapper's reference: dog_release() runs
 * ]|
 *
 * In Python:
 *
 * |[<!-- language="Python" -->
 * dog = Refcount.DeletableNativeHandle.new_native(ptr, release_address, "DOG_PTR")
 * ]|
 *
 * The shared object that contains the release function (and the destroy
 * notify of rc_deletable_native_handle_new()) stays loaded until the release
 * has run: a library closed with dlclose() while handles of its functions
 * are alive (cffi closes an `ffi.dlopen()` library when its object is
 * collected) is unloaded only after the last of them is released, instead
 * of leaving them to call into unmapped memory. Functions of the main
 * program, of the objects it was linked with and of refcount's own
 * dependencies need no such pin; for the others the cost is paid per
 * distinct function, not per handle.
 */

struct _RcDeletableNativeHandle
{
  RcNativeHandle parent_instance;

  RcReleaseFunc func;
  gpointer user_data;
  GDestroyNotify notify;
  /* Keep the objects of the release function and of the notify loaded. */
  RcLibraryPin *release_pin;
  RcLibraryPin *notify_pin;
};

G_DEFINE_FINAL_TYPE (RcDeletableNativeHandle, rc_deletable_native_handle, RC_TYPE_NATIVE_HANDLE)

typedef void (*RcNativeReleaseFunc) (void *handle);

static void
call_native_release (gpointer handle,
                     gpointer release_address)
{
  /* An address handed over from another language: converting it back to a
   * function pointer is what dlsym() users do too. */
  RcNativeReleaseFunc func = (RcNativeReleaseFunc) release_address;

  func (handle);
}

/* Takes the release function, and pins the objects that contain the
 * native code it will run. */
static void
set_release (RcDeletableNativeHandle *self,
             RcReleaseFunc            func,
             gpointer                 user_data,
             GDestroyNotify           notify,
             gconstpointer            native_code)
{
  self->func = func;
  self->user_data = user_data;
  self->notify = notify;
  self->release_pin = _rc_library_pin_acquire (native_code);
  self->notify_pin = _rc_library_pin_acquire (notify);
}

/* After the release, or at finalize without one: the function, its data
 * and the pins go; the notify runs before its own pin is given back. */
static void
drop_user_data (RcDeletableNativeHandle *self)
{
  GDestroyNotify notify = g_steal_pointer (&self->notify);
  gpointer user_data = g_steal_pointer (&self->user_data);

  self->func = NULL;
  if (notify != NULL)
    notify (user_data);
  g_clear_pointer (&self->release_pin, _rc_library_pin_release);
  g_clear_pointer (&self->notify_pin, _rc_library_pin_release);
}

static gboolean
rc_deletable_native_handle_release_handle (RcNativeHandle *handle)
{
  RcDeletableNativeHandle *self = RC_DELETABLE_NATIVE_HANDLE (handle);

  /* Runs at most once, in the one thread that won the release. */
  if (G_UNLIKELY (self->func == NULL))
    {
      /* Made with g_object_new() and never given a release function. */
      g_critical ("%s of type id \"%s\" has no release function: "
                  "the native pointer %p is not released",
                  G_OBJECT_TYPE_NAME (self),
                  rc_native_handle_get_type_id (handle) != NULL ? rc_native_handle_get_type_id (handle) : "",
                  rc_native_handle_get_handle (handle));
      return TRUE;
    }
  self->func (rc_native_handle_get_handle (handle), self->user_data);
  drop_user_data (self);
  return TRUE;
}

static void
rc_deletable_native_handle_finalize (GObject *object)
{
  drop_user_data (RC_DELETABLE_NATIVE_HANDLE (object));

  G_OBJECT_CLASS (rc_deletable_native_handle_parent_class)->finalize (object);
}

static void
rc_deletable_native_handle_class_init (RcDeletableNativeHandleClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  RcNativeHandleClass *handle_class = RC_NATIVE_HANDLE_CLASS (klass);

  object_class->finalize = rc_deletable_native_handle_finalize;
  handle_class->release_handle = rc_deletable_native_handle_release_handle;
}

static void
rc_deletable_native_handle_init (RcDeletableNativeHandle *self)
{
}

/**
 * rc_deletable_native_handle_new:
 * @handle: (nullable): the native pointer, or %NULL to set it later with
 *   rc_native_handle_set_handle()
 * @func: (scope notified) (closure user_data) (destroy notify): the function
 *   that releases @handle
 * @user_data: data passed to @func
 * @notify: (nullable): frees @user_data, right after the release or when the
 *   handle is finalized without a release
 * @type_id: (nullable): the type id, such as "DOG_PTR"
 *
 * Creates a handle holding one reference, released by @func.
 *
 * Returns: (transfer full): a new #RcDeletableNativeHandle
 */
RcDeletableNativeHandle *
rc_deletable_native_handle_new (gpointer        handle,
                                RcReleaseFunc   func,
                                gpointer        user_data,
                                GDestroyNotify  notify,
                                const char     *type_id)
{
  RcDeletableNativeHandle *self;

  g_return_val_if_fail (func != NULL, NULL);

  self = g_object_new (RC_TYPE_DELETABLE_NATIVE_HANDLE, NULL);
  set_release (self, func, user_data, notify, (gconstpointer) func);
  _rc_native_handle_init_handle (RC_NATIVE_HANDLE (self), handle, type_id);

  return self;
}

/**
 * rc_deletable_native_handle_new_native:
 * @handle: (nullable): the native pointer, or %NULL to set it later with
 *   rc_native_handle_set_handle()
 * @release_address: the address of a native function `void f (void *)` that
 *   releases @handle (from cffi, ctypes or dlsym)
 * @type_id: (nullable): the type id, such as "DOG_PTR"
 *
 * Creates a handle holding one reference, released by calling the native
 * function at @release_address. The release never calls into a language
 * runtime.
 *
 * Returns: (transfer full): a new #RcDeletableNativeHandle
 */
RcDeletableNativeHandle *
rc_deletable_native_handle_new_native (gpointer    handle,
                                       gpointer    release_address,
                                       const char *type_id)
{
  RcDeletableNativeHandle *self;

  g_return_val_if_fail (release_address != NULL, NULL);

  self = g_object_new (RC_TYPE_DELETABLE_NATIVE_HANDLE, NULL);
  set_release (self, call_native_release, release_address, NULL, release_address);
  _rc_native_handle_init_handle (RC_NATIVE_HANDLE (self), handle, type_id);

  return self;
}

/**
 * rc_deletable_native_handle_set_release:
 * @self: an #RcDeletableNativeHandle made without a release function
 * @func: (scope notified) (closure user_data) (destroy notify): the function
 *   that releases the handle
 * @user_data: data passed to @func
 * @notify: (nullable): frees @user_data, right after the release or when the
 *   handle is finalized without a release
 *
 * Gives a handle made with g_object_new() (as language bindings do) its
 * release function. Call it once, before the handle is shared with other
 * threads; a handle made by rc_deletable_native_handle_new() or
 * rc_deletable_native_handle_new_native() already has one.
 *
 * Returns: %TRUE if @func is now the release function; %FALSE (with a
 *   critical warning, and @notify called on @user_data) if the handle
 *   already had one
 */
gboolean
rc_deletable_native_handle_set_release (RcDeletableNativeHandle *self,
                                        RcReleaseFunc            func,
                                        gpointer                 user_data,
                                        GDestroyNotify           notify)
{
  g_return_val_if_fail (RC_IS_DELETABLE_NATIVE_HANDLE (self), FALSE);
  g_return_val_if_fail (func != NULL, FALSE);

  if (self->func != NULL)
    {
      g_critical ("%s %p already has a release function", G_OBJECT_TYPE_NAME (self), self);
      if (notify != NULL)
        notify (user_data);
      return FALSE;
    }

  set_release (self, func, user_data, notify, (gconstpointer) func);
  return TRUE;
}

/**
 * rc_deletable_native_handle_set_release_native:
 * @self: an #RcDeletableNativeHandle made without a release function
 * @release_address: the address of a native function `void f (void *)` that
 *   releases the handle (from cffi, ctypes or dlsym)
 *
 * The native form of rc_deletable_native_handle_set_release(), as
 * rc_deletable_native_handle_new_native() is of
 * rc_deletable_native_handle_new().
 *
 * Returns: %TRUE if the function at @release_address is now the release
 *   function; %FALSE (with a critical warning) if the handle already had one
 */
gboolean
rc_deletable_native_handle_set_release_native (RcDeletableNativeHandle *self,
                                               gpointer                 release_address)
{
  g_return_val_if_fail (RC_IS_DELETABLE_NATIVE_HANDLE (self), FALSE);
  g_return_val_if_fail (release_address != NULL, FALSE);

  if (self->func != NULL)
    {
      g_critical ("%s %p already has a release function", G_OBJECT_TYPE_NAME (self), self);
      return FALSE;
    }

  set_release (self, call_native_release, release_address, NULL, release_address);
  return TRUE;
}
