/* rc-error.c
 *
 * SPDX-License-Identifier: MIT
 */

#include "config.h"

#include "rc-error.h"

/**
 * SECTION:rc-error
 * @Title: Errors
 * @Short_description: the %RC_ERROR domain
 *
 * Functions of refcount that can fail for reasons a caller meets at run time
 * (a released handle, an unknown type id, an unsupported platform) report
 * them with a #GError in the %RC_ERROR domain; the code is an #RcError.
 * Programmer errors (a %NULL object, a negative count) are reported with
 * g_return_val_if_fail() criticals instead.
 *
 * In Python, such errors are raised as `GLib.Error`, with `domain` "rc-error-quark"
 * and `code` the #RcError value.
 */

/**
 * rc_error_quark:
 *
 * The quark of the %RC_ERROR domain.
 *
 * Returns: the error domain quark
 */
G_DEFINE_QUARK (rc-error-quark, rc_error)
