/* rc-native-handle.h: a reference-counted handle to a native pointer
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined (REFCOUNT_INSIDE) && !defined (REFCOUNT_COMPILATION)
# error "Only <refcount/refcount.h> can be included directly."
#endif

#include <glib-object.h>

#include "rc-version.h"
#include "rc-reference-counter.h"

G_BEGIN_DECLS

#define RC_TYPE_NATIVE_HANDLE (rc_native_handle_get_type ())

RC_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (RcNativeHandle, rc_native_handle, RC, NATIVE_HANDLE, RcReferenceCounter)

/**
 * RcNativeHandleClass:
 * @parent_class: the parent class.
 * @is_valid_handle: checks a native pointer before the handle takes it; the
 *   default accepts any non-%NULL pointer.
 * @release_handle: releases the native resource; called at most once, when
 *   the reference count reaches zero, outside any lock. Returns %TRUE on
 *   success; %FALSE keeps the handle (not disposed) and logs a warning.
 *
 * The class of #RcNativeHandle. Subclasses override @release_handle (in C,
 * or as `do_release_handle` in Python) and may override @is_valid_handle.
 */
struct _RcNativeHandleClass
{
  RcReferenceCounterClass parent_class;

  gboolean (*is_valid_handle) (RcNativeHandle *self,
                               gpointer        handle);
  gboolean (*release_handle)  (RcNativeHandle *self);

  /*< private >*/
  gpointer padding[8];
};

RC_AVAILABLE_IN_ALL
gpointer     rc_native_handle_get_handle             (RcNativeHandle  *self);
RC_AVAILABLE_IN_ALL
gboolean     rc_native_handle_set_handle             (RcNativeHandle  *self,
                                                      gpointer         handle,
                                                      int              prior_ref_count,
                                                      GError         **error);
RC_AVAILABLE_IN_ALL
const char  *rc_native_handle_get_type_id            (RcNativeHandle  *self);
RC_AVAILABLE_IN_ALL
gboolean     rc_native_handle_is_valid_handle        (RcNativeHandle  *self,
                                                      gpointer         handle);
RC_AVAILABLE_IN_ALL
void         rc_native_handle_release                (RcNativeHandle  *self);
RC_AVAILABLE_IN_ALL
void         rc_native_handle_dispose                (RcNativeHandle  *self);
RC_AVAILABLE_IN_ALL
gboolean     rc_native_handle_is_disposed            (RcNativeHandle  *self);
RC_AVAILABLE_IN_ALL
gboolean     rc_native_handle_is_invalid             (RcNativeHandle  *self);
RC_AVAILABLE_IN_ALL
gboolean     rc_native_handle_drop_wrapper_reference (RcNativeHandle  *self);
RC_AVAILABLE_IN_ALL
gboolean     rc_native_handle_construct              (RcNativeHandle  *self,
                                                      gpointer         handle,
                                                      const char      *type_id,
                                                      int              prior_ref_count);
RC_AVAILABLE_IN_ALL
gpointer     rc_native_handle_acquire                (RcNativeHandle  *self,
                                                      GError         **error);
RC_AVAILABLE_IN_ALL
char        *rc_native_handle_to_string              (RcNativeHandle  *self);
RC_AVAILABLE_IN_ALL
gboolean     rc_native_handle_add_dependency         (RcNativeHandle  *self,
                                                      RcNativeHandle  *dependency,
                                                      GError         **error);
RC_AVAILABLE_IN_ALL
GPtrArray   *rc_native_handle_get_dependencies       (RcNativeHandle  *self);
RC_AVAILABLE_IN_ALL
guint        rc_native_handle_get_live_count         (void);
RC_AVAILABLE_IN_ALL
guint        rc_native_handle_get_unreleased_count   (void);

G_END_DECLS
