/* rc-error.h: the refcount error domain
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#if !defined (REFCOUNT_INSIDE) && !defined (REFCOUNT_COMPILATION)
# error "Only <refcount/refcount.h> can be included directly."
#endif

#include <glib.h>

#include "rc-version.h"

G_BEGIN_DECLS

/**
 * RC_ERROR:
 *
 * The error domain of refcount: errors in this domain carry an #RcError code.
 */
#define RC_ERROR (rc_error_quark ())

/**
 * RcError:
 * @RC_ERROR_FAILED: a failure with no more specific code.
 * @RC_ERROR_INVALID_ARGUMENT: an argument is missing or out of range (for
 *   example a %NULL type id where one is required).
 * @RC_ERROR_INVALID_HANDLE: the handle was rejected by the
 *   #RcNativeHandleClass.is_valid_handle check of the wrapper.
 * @RC_ERROR_DISPOSED: the native handle was already released (or never set),
 *   so it cannot be used or borrowed.
 * @RC_ERROR_HANDLE_ALREADY_SET: rc_native_handle_set_handle() was called on a
 *   handle that already holds a native pointer.
 * @RC_ERROR_UNKNOWN_TYPE_ID: a strict #RcWrapperFactory does not know the type id.
 * @RC_ERROR_NOT_IMPLEMENTED: the type id is known but no wrapper type is
 *   registered for it, or the platform is not supported.
 * @RC_ERROR_WRONG_TYPE: the type registered for a type id cannot be
 *   instantiated as an #RcNativeHandle.
 * @RC_ERROR_CYCLE: rc_native_handle_add_dependency() was asked for a
 *   dependency that would close a cycle (a handle depending on itself,
 *   directly or through its dependencies), which would keep every handle of
 *   the cycle alive forever.
 *
 * Error codes of the %RC_ERROR domain.
 */
typedef enum {
  RC_ERROR_FAILED,
  RC_ERROR_INVALID_ARGUMENT,
  RC_ERROR_INVALID_HANDLE,
  RC_ERROR_DISPOSED,
  RC_ERROR_HANDLE_ALREADY_SET,
  RC_ERROR_UNKNOWN_TYPE_ID,
  RC_ERROR_NOT_IMPLEMENTED,
  RC_ERROR_WRONG_TYPE,
  RC_ERROR_CYCLE,
} RcError;

RC_AVAILABLE_IN_ALL
GQuark rc_error_quark (void);

G_END_DECLS
