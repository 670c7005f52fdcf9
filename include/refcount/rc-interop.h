/* rc-interop.h: helpers for code that takes handles as arguments
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined (REFCOUNT_INSIDE) && !defined (REFCOUNT_COMPILATION)
# error "Only <refcount/refcount.h> can be included directly."
#endif

#include <glib-object.h>

#include "rc-version.h"

G_BEGIN_DECLS

RC_AVAILABLE_IN_ALL
gboolean  rc_is_native_handle     (GObject    *object,
                                   const char *type_id);
RC_AVAILABLE_IN_ALL
gpointer  rc_unwrap_native_handle (GObject    *object);
RC_AVAILABLE_IN_ALL
char     *rc_arg_error_message    (GObject    *object,
                                   const char *expected_type_id);

G_END_DECLS
