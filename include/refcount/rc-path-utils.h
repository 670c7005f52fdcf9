/* rc-path-utils.h: finding native libraries and building search paths
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
char *rc_library_short_filename (const char          *library_name,
                                 const char          *platform,
                                 GError             **error);
RC_AVAILABLE_IN_ALL
char *rc_find_full_path         (const char          *name,
                                 const char          *prefix);
RC_AVAILABLE_IN_ALL
char *rc_augment_path_env       (const char * const  *added_paths,
                                 const char          *subfolder,
                                 const char          *to_env,
                                 gboolean             prepend);
RC_AVAILABLE_IN_ALL
char *rc_build_new_path_env     (const char          *from_env,
                                 const char          *to_env,
                                 const char          *platform);
RC_AVAILABLE_IN_ALL
void  rc_update_path_windows    (const char          *from_env,
                                 const char          *to_env);
RC_AVAILABLE_IN_ALL
const char *rc_get_platform     (void);

G_END_DECLS
