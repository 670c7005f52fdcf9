/* rc-debug.c
 *
 * SPDX-License-Identifier: MIT
 */

#include "config.h"

#include "rc-debug.h"
#include "rc-path-utils.h"

#include <string.h>

#ifdef G_OS_UNIX
# include <sys/utsname.h>
#endif

/**
 * SECTION:rc-debug
 * @Title: Debug information
 * @Short_description: versions and environment, for bug reports
 *
 * rc_get_debug_info() gathers what a bug report about refcount needs: the
 * version of the library that is actually loaded (which may differ from the
 * headers a program was compiled with; compare rc_get_major_version() and
 * %RC_MAJOR_VERSION), the GLib versions, the platform, and the environment
 * variables that change refcount's behaviour (`RC_*`, `REFCOUNT*`).
 *
 * |[<!-- language="C" -->
 * g_autofree char *info = rc_get_debug_info ();
 *
 * g_print ("%s", info);
 * if (rc_get_major_version () != RC_MAJOR_VERSION)
 *   g_warning ("compiled against refcount %s, running with %u.%u.%u",
 *              RC_VERSION_S, rc_get_major_version (),
 *              rc_get_minor_version (), rc_get_micro_version ());
 * ]|
 *
 * In Python:
 * |[<!-- language="Python" -->
 * from gi.repository import Refcount
 *
 * print(Refcount.get_debug_info())
 * ]|
 * or, as in pyrefcount, `refcount.debug.print_debug_info()`.
 */

/**
 * rc_get_major_version:
 *
 * The major version of the refcount library in use at run time, as opposed
 * to %RC_MAJOR_VERSION, the version of the headers at compile time.
 *
 * Returns: the major version (1 in 1.2.3)
 */
guint
rc_get_major_version (void)
{
  return RC_MAJOR_VERSION;
}

/**
 * rc_get_minor_version:
 *
 * The minor version of the refcount library in use at run time, as opposed
 * to %RC_MINOR_VERSION.
 *
 * Returns: the minor version (2 in 1.2.3)
 */
guint
rc_get_minor_version (void)
{
  return RC_MINOR_VERSION;
}

/**
 * rc_get_micro_version:
 *
 * The micro version of the refcount library in use at run time, as opposed
 * to %RC_MICRO_VERSION.
 *
 * Returns: the micro version (3 in 1.2.3)
 */
guint
rc_get_micro_version (void)
{
  return RC_MICRO_VERSION;
}

static gboolean
is_refcount_variable (const char *name)
{
  return g_str_has_prefix (name, "RC_") || g_str_has_prefix (name, "REFCOUNT");
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/**
 * rc_get_debug_info:
 *
 * Describes the running refcount for a bug report, one item a line: the
 * version of refcount, the GLib version at run time and at compile time, the
 * platform (rc_get_platform(), the operating system's name and, on Unix, the
 * kernel), the size of a pointer, then every environment variable whose name
 * starts with "RC_" or "REFCOUNT", as `NAME=value` lines sorted by name.
 *
 * The text ends with a newline; its exact layout may change between
 * versions, it is meant for people.
 *
 * Returns: (transfer full): the description
 */
char *
rc_get_debug_info (void)
{
  g_autoptr(GString) info = g_string_new (NULL);
  g_autofree char *os_name = g_get_os_info (G_OS_INFO_KEY_PRETTY_NAME);
  g_auto(GStrv) names = g_listenv ();
  g_autoptr(GPtrArray) variables = g_ptr_array_new ();
#ifdef G_OS_UNIX
  struct utsname uts;
#endif

  g_string_append_printf (info, "refcount: %s\n", PACKAGE_VERSION);
  g_string_append_printf (info, "GLib (run time): %u.%u.%u\n",
                          glib_major_version, glib_minor_version, glib_micro_version);
  g_string_append_printf (info, "GLib (compile time): %d.%d.%d\n",
                          GLIB_MAJOR_VERSION, GLIB_MINOR_VERSION, GLIB_MICRO_VERSION);
  g_string_append_printf (info, "Platform: %s\n", rc_get_platform ());
  g_string_append_printf (info, "Operating system: %s\n",
                          os_name != NULL ? os_name : "unknown");
#ifdef G_OS_UNIX
  if (uname (&uts) == 0)
    g_string_append_printf (info, "Kernel: %s %s %s\n",
                            uts.sysname, uts.release, uts.machine);
#endif
  g_string_append_printf (info, "Pointer size: %d bits\n", GLIB_SIZEOF_VOID_P * 8);

  for (guint i = 0; names[i] != NULL; i++)
    {
      if (is_refcount_variable (names[i]))
        g_ptr_array_add (variables, names[i]);
    }
  g_ptr_array_sort (variables, compare_strings);

  g_string_append (info, "Environment variables (RC_*, REFCOUNT*):");
  if (variables->len == 0)
    g_string_append (info, " none");
  g_string_append_c (info, '\n');

  for (guint i = 0; i < variables->len; i++)
    {
      const char *name = g_ptr_array_index (variables, i);
      const char *value = g_getenv (name);

      /* Unset by another thread since g_listenv(): nothing to report. */
      if (value != NULL)
        g_string_append_printf (info, "%s=%s\n", name, value);
    }

  return g_string_free (g_steal_pointer (&info), FALSE);
}
