/* rc-deletable-native-handle.h: a handle released by a given function
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined (REFCOUNT_INSIDE) && !defined (REFCOUNT_COMPILATION)
# error "Only <refcount/refcount.h> can be included directly."
#endif

#include <glib-object.h>

#include "rc-version.h"
#include "rc-native-handle.h"

G_BEGIN_DECLS

/**
 * RcReleaseFunc:
 * @handle: the native pointer to release.
 * @user_data: the data given with the function.
 *
 * Releases a native resource: called once, when the reference count of an
 * #RcDeletableNativeHandle reaches zero.
 */
typedef void (*RcReleaseFunc) (gpointer handle,
                               gpointer user_data);

#define RC_TYPE_DELETABLE_NATIVE_HANDLE (rc_deletable_native_handle_get_type ())

RC_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (RcDeletableNativeHandle, rc_deletable_native_handle, RC, DELETABLE_NATIVE_HANDLE, RcNativeHandle)

RC_AVAILABLE_IN_ALL
RcDeletableNativeHandle *rc_deletable_native_handle_new        (gpointer        handle,
                                                                RcReleaseFunc   func,
                                                                gpointer        user_data,
                                                                GDestroyNotify  notify,
                                                                const char     *type_id);
RC_AVAILABLE_IN_ALL
RcDeletableNativeHandle *rc_deletable_native_handle_new_native (gpointer        handle,
                                                                gpointer        release_address,
                                                                const char     *type_id);
RC_AVAILABLE_IN_ALL
gboolean                 rc_deletable_native_handle_set_release        (RcDeletableNativeHandle *self,
                                                                        RcReleaseFunc            func,
                                                                        gpointer                 user_data,
                                                                        GDestroyNotify           notify);
RC_AVAILABLE_IN_ALL
gboolean                 rc_deletable_native_handle_set_release_native (RcDeletableNativeHandle *self,
                                                                        gpointer                 release_address);

G_END_DECLS
