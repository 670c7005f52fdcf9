/* rc-wrapper-factory.h: build the right wrapper for a type id
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

#define RC_TYPE_WRAPPER_FACTORY (rc_wrapper_factory_get_type ())

RC_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (RcWrapperFactory, rc_wrapper_factory, RC, WRAPPER_FACTORY, GObject)

RC_AVAILABLE_IN_ALL
RcWrapperFactory *rc_wrapper_factory_new             (gboolean          strict);
RC_AVAILABLE_IN_ALL
gboolean          rc_wrapper_factory_get_strict      (RcWrapperFactory *self);
RC_AVAILABLE_IN_ALL
void              rc_wrapper_factory_register        (RcWrapperFactory *self,
                                                      const char       *type_id,
                                                      GType             wrapper_type);
RC_AVAILABLE_IN_ALL
gboolean          rc_wrapper_factory_lookup          (RcWrapperFactory *self,
                                                      const char       *type_id,
                                                      GType            *wrapper_type);
RC_AVAILABLE_IN_ALL
RcNativeHandle   *rc_wrapper_factory_create_wrapper  (RcWrapperFactory *self,
                                                      gpointer          handle,
                                                      const char       *type_id,
                                                      gpointer          release_address,
                                                      GError          **error);

G_END_DECLS
