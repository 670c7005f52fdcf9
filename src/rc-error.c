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
GQuark
rc_error_quark (void)
{
  /* Not G_DEFINE_QUARK: its cache is a plain static, a data race when two
   * threads raise the first error of the process at once (the quark is the
   * same either way, but ThreadSanitizer is right to say so). */
  static int quark;
  GQuark q = (GQuark) g_atomic_int_get (&quark);

  if (G_UNLIKELY (q == 0))
    {
      q = g_quark_from_static_string ("rc-error-quark");
      g_atomic_int_set (&quark, (int) q);
    }

  return q;
}
