/* rc-owning-native-handle.h: a handle to memory owned elsewhere
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

#define RC_TYPE_OWNING_NATIVE_HANDLE (rc_owning_native_handle_get_type ())

RC_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (RcOwningNativeHandle, rc_owning_native_handle, RC, OWNING_NATIVE_HANDLE, RcNativeHandle)

RC_AVAILABLE_IN_ALL
RcOwningNativeHandle *rc_owning_native_handle_new (gpointer    handle,
                                                   const char *type_id);

G_END_DECLS
