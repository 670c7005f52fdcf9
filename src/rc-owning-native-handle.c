/* rc-owning-native-handle.c
 *
 * SPDX-License-Identifier: MIT
 */

#include "config.h"

#include "rc-native-handle-private.h"
#include "rc-owning-native-handle.h"

/**
 * SECTION:rc-owning-native-handle
 * @Title: RcOwningNativeHandle
 * @Short_description: a handle to memory owned elsewhere
 *
 * #RcOwningNativeHandle counts references to a pointer whose memory is owned
 * by someone else (a buffer allocated by a language runtime, a static
 * object): releasing it does nothing to the memory and always succeeds, so
 * the count still goes to zero and the handle is disposed.
 *
 * |[<!-- language="C" -->
 * static char buffer[64];
 * g_autoptr(RcOwningNativeHandle) handle = rc_owning_native_handle_new (buffer, "char[64]");
 * ]|
 *
 * In Python: `Refcount.OwningNativeHandle.new(address, "char[64]")`.
 */

struct _RcOwningNativeHandle
{
  RcNativeHandle parent_instance;
};

G_DEFINE_FINAL_TYPE (RcOwningNativeHandle, rc_owning_native_handle, RC_TYPE_NATIVE_HANDLE)

static gboolean
rc_owning_native_handle_release_handle (RcNativeHandle *handle)
{
  return TRUE;
}

static void
rc_owning_native_handle_class_init (RcOwningNativeHandleClass *klass)
{
  RC_NATIVE_HANDLE_CLASS (klass)->release_handle = rc_owning_native_handle_release_handle;
}

static void
rc_owning_native_handle_init (RcOwningNativeHandle *self)
{
}

/**
 * rc_owning_native_handle_new:
 * @handle: (nullable): the pointer, or %NULL to set it later with
 *   rc_native_handle_set_handle()
 * @type_id: (nullable): the type id
 *
 * Creates a handle holding one reference whose release leaves the memory alone.
 *
 * Returns: (transfer full): a new #RcOwningNativeHandle
 */
RcOwningNativeHandle *
rc_owning_native_handle_new (gpointer    handle,
                             const char *type_id)
{
  RcOwningNativeHandle *self = g_object_new (RC_TYPE_OWNING_NATIVE_HANDLE, NULL);

  _rc_native_handle_init_handle (RC_NATIVE_HANDLE (self), handle, type_id);
  return self;
}
