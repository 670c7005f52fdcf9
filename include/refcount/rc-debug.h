/* rc-debug.h: information for bug reports
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

RC_AVAILABLE_IN_ALL
char  *rc_get_debug_info      (void);
RC_AVAILABLE_IN_ALL
char    *rc_debug_live_report         (void);
RC_AVAILABLE_IN_ALL
gboolean rc_debug_tracks_live_handles (void);
RC_AVAILABLE_IN_ALL
guint  rc_get_major_version   (void);
RC_AVAILABLE_IN_ALL
guint  rc_get_minor_version   (void);
RC_AVAILABLE_IN_ALL
guint  rc_get_micro_version   (void);

G_END_DECLS
