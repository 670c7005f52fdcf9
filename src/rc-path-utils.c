/* rc-path-utils.c
 *
 * SPDX-License-Identifier: MIT
 */

#include "config.h"

#include "rc-path-utils.h"
#include "rc-error.h"

#include <string.h>

/**
 * SECTION:rc-path-utils
 * @Title: Library paths
 * @Short_description: finding native libraries and building search paths
 *
 * Helpers to locate the native library that a binding wraps, before it is
 * loaded with g_module_open(), dlopen(), cffi or ctypes: its file name on the
 * running platform (rc_library_short_filename()), its full path under an
 * installation prefix or as the system's dynamic loader knows it
 * (rc_find_full_path()), and new values for search path variables such as
 * `PATH`, built from the directories listed in another variable
 * (rc_augment_path_env(), rc_build_new_path_env(), rc_update_path_windows()).
 * These are the C counterparts of the `refcount.putils` module of pyrefcount,
 * and behave the same way.
 *
 * None of these functions changes the environment, except
 * rc_update_path_windows() on Windows.
 *
 * |[<!-- language="C" -->
 * g_autoptr(GError) error = NULL;
 * g_autofree char *short_name = NULL;
 * g_autofree char *path = NULL;
 * GModule *module = NULL;
 *
 * // "libdog.so" on Linux, "dog.dll" on Windows, "libdog.dylib" on macOS
 * short_name = rc_library_short_filename ("dog", NULL, &error);
 * if (short_name == NULL)
 *   g_printerr ("%s\n", error->message);   // an unsupported platform
 *
 * // "/opt/dog/lib64/libdog.so" if it exists, else the soname that the
 * // dynamic loader knows ("libdog.so.1"), else NULL
 * path = rc_find_full_path ("dog", "/opt/dog");
 * if (path != NULL)
 *   module = g_module_open (path, G_MODULE_BIND_LAZY);
 * ]|
 *
 * In Python, through introspection:
 * |[<!-- language="Python" -->
 * from gi.repository import Refcount
 *
 * Refcount.library_short_filename("dog", None)   # 'libdog.so'
 * Refcount.find_full_path("c", None)             # 'libc.so.6'
 * ]|
 * or with the pyrefcount-compatible module: `from refcount.putils import
 * library_short_filename, find_full_path`.
 */

/**
 * rc_get_platform:
 *
 * The running platform, named as Python's `sys.platform` names it: "linux",
 * "win32", "darwin", or another name such as "freebsd13", "cygwin" or
 * "unknown".
 *
 * Returns: (transfer none): a static string, never %NULL
 */
const char *
rc_get_platform (void)
{
#if defined (G_OS_WIN32)
  return "win32";
#elif defined (__CYGWIN__)
  return "cygwin";
#elif defined (__APPLE__)
  return "darwin";
#elif defined (__linux__)
  return "linux";
#elif defined (__FreeBSD__)
  return "freebsd" G_STRINGIFY (__FreeBSD__);
#elif defined (__OpenBSD__)
  return "openbsd";
#elif defined (__NetBSD__)
  return "netbsd";
#elif defined (__DragonFly__)
  return "dragonfly";
#elif defined (__sun)
  return "sunos5";
#elif defined (_AIX)
  return "aix";
#elif defined (__GNU__)
  return "gnu";
#elif defined (__EMSCRIPTEN__)
  return "emscripten";
#elif defined (__wasi__)
  return "wasi";
#else
  return "unknown";
#endif
}

/**
 * rc_library_short_filename:
 * @library_name: (nullable): the library's base name, such as "dog"
 * @platform: (nullable): "linux", "win32" or "darwin"; %NULL for the running
 *   platform (see rc_get_platform())
 * @error: return location for a #GError
 *
 * The file name of a shared library on a platform: `lib<name>.so` on
 * "linux", `<name>.dll` on "win32" and `lib<name>.dylib` on "darwin".
 *
 * A %NULL @library_name fails with %RC_ERROR_INVALID_ARGUMENT and any other
 * platform with %RC_ERROR_NOT_IMPLEMENTED; both are reported through @error
 * only, since callers such as the Python layer turn them into exceptions.
 *
 * Returns: (transfer full) (nullable): the file name, or %NULL with @error set
 */
char *
rc_library_short_filename (const char  *library_name,
                           const char  *platform,
                           GError     **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (platform == NULL)
    platform = rc_get_platform ();

  if (library_name == NULL)
    {
      g_set_error_literal (error, RC_ERROR, RC_ERROR_INVALID_ARGUMENT,
                           "library_name cannot be NULL");
      return NULL;
    }

  if (g_str_equal (platform, "win32"))
    return g_strdup_printf ("%s.dll", library_name);
  if (g_str_equal (platform, "linux"))
    return g_strdup_printf ("lib%s.so", library_name);
  if (g_str_equal (platform, "darwin"))
    return g_strdup_printf ("lib%s.dylib", library_name);

  g_set_error (error, RC_ERROR, RC_ERROR_NOT_IMPLEMENTED,
               "Platform '%s' is not (yet) supported", platform);
  return NULL;
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* The first existing <prefix>/lib<anything>/<short_name>, subdirectories in
 * byte order so that the answer does not depend on the file system. */
static char *
find_under_prefix (const char *prefix,
                   const char *short_name)
{
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GPtrArray) lib_dirs = NULL;
  const char *entry;

  dir = g_dir_open (prefix, 0, NULL);
  if (dir == NULL)
    return NULL;

  lib_dirs = g_ptr_array_new_with_free_func (g_free);
  while ((entry = g_dir_read_name (dir)) != NULL)
    {
      if (g_str_has_prefix (entry, "lib"))
        g_ptr_array_add (lib_dirs, g_strdup (entry));
    }
  g_ptr_array_sort (lib_dirs, compare_strings);

  for (guint i = 0; i < lib_dirs->len; i++)
    {
      g_autofree char *full = g_build_filename (prefix,
                                                g_ptr_array_index (lib_dirs, i),
                                                short_name,
                                                NULL);

      if (g_file_test (full, G_FILE_TEST_EXISTS))
        return g_steal_pointer (&full);
    }

  return NULL;
}

#if defined (__linux__)

/* The ABI tag that `ldconfig -p` prints for libraries this process can load,
 * as ctypes.util derives it; made exact where the architecture is known, so
 * that a 32-bit process is not offered 64-bit libraries. */
#if defined (__x86_64__)
# if defined (__ILP32__)
#  define RC_LDCONFIG_ABI "libc6,x32"
# else
#  define RC_LDCONFIG_ABI "libc6,x86-64"
# endif
# define RC_LDCONFIG_ABI_EXACT TRUE
#elif defined (__i386__)
# define RC_LDCONFIG_ABI "libc6"
# define RC_LDCONFIG_ABI_EXACT TRUE
#elif defined (__aarch64__) && GLIB_SIZEOF_VOID_P == 8
# define RC_LDCONFIG_ABI "libc6,AArch64"
# define RC_LDCONFIG_ABI_EXACT TRUE
#elif (defined (__powerpc64__) || defined (__s390x__) || (defined (__sparc__) && defined (__arch64__))) && GLIB_SIZEOF_VOID_P == 8
# define RC_LDCONFIG_ABI "libc6,64bit"
# define RC_LDCONFIG_ABI_EXACT TRUE
#elif defined (__ia64__)
# define RC_LDCONFIG_ABI "libc6,IA-64"
# define RC_LDCONFIG_ABI_EXACT TRUE
#else
/* Unknown tag (hard-float, double-float, N32...): any glibc library, as
 * ctypes does on such architectures. */
# define RC_LDCONFIG_ABI "libc6"
# define RC_LDCONFIG_ABI_EXACT FALSE
#endif

/* A line of `ldconfig -p` looks like
 *   "\tlibc.so.6 (libc6,x86-64) => /lib/x86_64-linux-gnu/libc.so.6"
 * possibly with ", hwcap: ..." or ", OS ABI: ..." inside the parentheses.
 * Returns the soname when the entry is lib<name>.so[.*] for our ABI. */
static char *
match_ldconfig_line (const char *line,
                     const char *wanted_prefix)
{
  const char *name_end;
  const char *flags;
  const char *flags_end;
  const char *abi_end;
  gsize abi_len;
  gsize prefix_len = strlen (wanted_prefix);

  while (*line == ' ' || *line == '\t')
    line++;

  if (strncmp (line, wanted_prefix, prefix_len) != 0)
    return NULL;

  name_end = strchr (line, ' ');
  if (name_end == NULL)
    return NULL;
  if (line + prefix_len != name_end && line[prefix_len] != '.')
    return NULL;

  flags = name_end + 1;
  if (*flags != '(')
    return NULL;
  flags++;
  flags_end = strchr (flags, ')');
  if (flags_end == NULL)
    return NULL;

  abi_end = g_strstr_len (flags, flags_end - flags, ", ");
  if (abi_end == NULL)
    abi_end = flags_end;
  abi_len = (gsize) (abi_end - flags);

  if (RC_LDCONFIG_ABI_EXACT)
    {
      if (abi_len != strlen (RC_LDCONFIG_ABI) ||
          strncmp (flags, RC_LDCONFIG_ABI, abi_len) != 0)
        return NULL;
    }
  else if (!g_str_has_prefix (flags, RC_LDCONFIG_ABI))
    {
      return NULL;
    }

  return g_strndup (line, (gsize) (name_end - line));
}

/* What ctypes.util.find_library() finds through the dynamic loader's cache:
 * the first entry of `ldconfig -p` for lib<name>.so with the process's ABI. */
static char *
find_in_ldconfig_cache (const char *name)
{
  static const char * const candidates[] = { "/sbin/ldconfig", "/usr/sbin/ldconfig" };
  /* Untranslated, stable output, whatever the caller's locale. */
  char *envp[] = { (char *) "LC_ALL=C", (char *) "LANG=C", NULL };
  g_autofree char *output = NULL;
  g_autofree char *wanted_prefix = NULL;
  g_auto(GStrv) lines = NULL;
  const char *ldconfig = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    {
      if (g_file_test (candidates[i], G_FILE_TEST_IS_EXECUTABLE))
        {
          ldconfig = candidates[i];
          break;
        }
    }
  if (ldconfig == NULL)
    return NULL;

  {
    char *argv[] = { (char *) ldconfig, (char *) "-p", NULL };

    /* A failed or missing ldconfig just means "not found", as in ctypes. */
    if (!g_spawn_sync (NULL, argv, envp, G_SPAWN_STDERR_TO_DEV_NULL,
                       NULL, NULL, &output, NULL, NULL, NULL))
      return NULL;
  }

  wanted_prefix = g_strdup_printf ("lib%s.so", name);
  lines = g_strsplit (output, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *soname = match_ldconfig_line (lines[i], wanted_prefix);

      if (soname != NULL)
        return soname;
    }

  return NULL;
}

#elif defined (G_OS_WIN32)

/* What ctypes.util.find_library() does on Windows: <dir>\<name> or
 * <dir>\<name>.dll for each directory of PATH. */
static char *
find_in_path_dirs (const char *name)
{
  const char *path = g_getenv ("PATH");
  g_auto(GStrv) dirs = NULL;

  if (path == NULL)
    return NULL;

  dirs = g_strsplit (path, G_SEARCHPATH_SEPARATOR_S, -1);
  for (guint i = 0; dirs[i] != NULL; i++)
    {
      g_autofree char *full = g_build_filename (dirs[i], name, NULL);
      g_autofree char *lower = NULL;
      g_autofree char *with_dll = NULL;

      if (g_file_test (full, G_FILE_TEST_IS_REGULAR))
        return g_steal_pointer (&full);

      lower = g_ascii_strdown (full, -1);
      if (g_str_has_suffix (lower, ".dll"))
        continue;

      with_dll = g_strconcat (full, ".dll", NULL);
      if (g_file_test (with_dll, G_FILE_TEST_IS_REGULAR))
        return g_steal_pointer (&with_dll);
    }

  return NULL;
}

#endif

/**
 * rc_find_full_path:
 * @name: (nullable): the library's base name, such as "dog" or "c"
 * @prefix: (nullable): an installation prefix to look under; %NULL for the
 *   prefix refcount is installed in
 *
 * Finds a native library. First under @prefix: the library's file name for
 * the running platform (see rc_library_short_filename()) is looked for in
 * every directory directly under @prefix whose name starts with "lib" (lib,
 * lib32, lib64...), in byte order, and the first that exists is returned.
 *
 * Failing that, what Python's `ctypes.util.find_library()` gives: on Linux,
 * the soname that the dynamic loader's cache (`ldconfig -p`) lists for the
 * ABI of the running process, so "c" gives "libc.so.6"; on Windows, a
 * `<name>.dll` found in a directory of `PATH`. Other platforms only have the
 * search under @prefix.
 *
 * Returns: (transfer full) (nullable): a full path or a soname that
 *   g_module_open() or dlopen() accept, or %NULL if @name is %NULL or nothing
 *   is found
 */
char *
rc_find_full_path (const char *name,
                   const char *prefix)
{
  g_autofree char *short_name = NULL;

  if (name == NULL)
    return NULL;

  if (prefix == NULL)
    prefix = RC_PREFIX;

  /* Only an unsupported running platform fails here: then there is no file
   * name to look for under the prefix. */
  short_name = rc_library_short_filename (name, NULL, NULL);
  if (short_name != NULL)
    {
      char *full = find_under_prefix (prefix, short_name);

      if (full != NULL)
        return full;
    }

#if defined (__linux__)
  return find_in_ldconfig_cache (name);
#elif defined (G_OS_WIN32)
  return find_in_path_dirs (name);
#else
  return NULL;
#endif
}

/**
 * rc_augment_path_env:
 * @added_paths: (array zero-terminated=1) (nullable): directories to add;
 *   %NULL is the same as an empty array
 * @subfolder: (nullable): a subdirectory to append to each of @added_paths,
 *   such as "64"; %NULL or "" for none
 * @to_env: (nullable): the variable whose current value is extended; %NULL
 *   for "PATH"
 * @prepend: %TRUE to put the added directories before the current value,
 *   %FALSE to put them after it
 *
 * Builds a new value for a search path variable such as `PATH`: the current
 * value of @to_env (empty when it is unset), with the directories of
 * @added_paths (each joined with @subfolder) that exist, separated by
 * %G_SEARCHPATH_SEPARATOR_S. Empty entries of @added_paths are skipped.
 * There is no leading or trailing separator when either side is empty.
 *
 * The environment is not modified: pass the result to g_setenv() if that is
 * wanted.
 *
 * Returns: (transfer full): the new value
 */
char *
rc_augment_path_env (const char * const *added_paths,
                     const char         *subfolder,
                     const char         *to_env,
                     gboolean            prepend)
{
  g_autoptr(GPtrArray) kept = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *added = NULL;
  const char *current;

  if (to_env == NULL)
    to_env = "PATH";

  for (guint i = 0; added_paths != NULL && added_paths[i] != NULL; i++)
    {
      char *candidate;

      /* An empty entry (as in "a::b") would otherwise become the relative
       * path @subfolder, resolved against the current directory. */
      if (added_paths[i][0] == '\0')
        continue;

      if (subfolder != NULL && subfolder[0] != '\0')
        candidate = g_build_filename (added_paths[i], subfolder, NULL);
      else
        candidate = g_strdup (added_paths[i]);

      if (g_file_test (candidate, G_FILE_TEST_EXISTS))
        g_ptr_array_add (kept, candidate);
      else
        g_free (candidate);
    }
  g_ptr_array_add (kept, NULL);
  added = g_strjoinv (G_SEARCHPATH_SEPARATOR_S, (char **) kept->pdata);

  current = g_getenv (to_env);
  if (current == NULL || current[0] == '\0')
    return g_steal_pointer (&added);
  if (added[0] == '\0')
    return g_strdup (current);

  if (prepend)
    return g_strjoin (G_SEARCHPATH_SEPARATOR_S, added, current, NULL);
  else
    return g_strjoin (G_SEARCHPATH_SEPARATOR_S, current, added, NULL);
}

/**
 * rc_build_new_path_env:
 * @from_env: (nullable): the variable that lists the directories of custom
 *   native libraries; %NULL for "LIBRARY_PATH"
 * @to_env: (nullable): the variable to extend; %NULL for "PATH"
 * @platform: (nullable): the platform, as rc_get_platform() names them; %NULL
 *   for the running one
 *
 * Proposes a new value for @to_env (most likely `PATH` on Windows) that adds
 * the existing directories listed in @from_env, after the current value, as
 * rc_augment_path_env() does. On "win32" each directory is first joined with
 * "64" in a 64-bit process or "32" in a 32-bit one, for installations that
 * keep both architectures side by side.
 *
 * When @from_env is not set, a warning naming both variables is logged (a
 * native library that then fails to load is likely to be the reason) and the
 * current value of @to_env is returned, or "" if it is unset.
 *
 * The environment is not modified; see rc_update_path_windows().
 *
 * Returns: (transfer full): the proposed value of @to_env
 */
char *
rc_build_new_path_env (const char *from_env,
                       const char *to_env,
                       const char *platform)
{
  const char *shared_lib_paths;
  const char *current;

  if (from_env == NULL)
    from_env = "LIBRARY_PATH";
  if (to_env == NULL)
    to_env = "PATH";
  if (platform == NULL)
    platform = rc_get_platform ();

  shared_lib_paths = g_getenv (from_env);
  if (shared_lib_paths != NULL)
    {
      g_auto(GStrv) dirs = g_strsplit (shared_lib_paths, G_SEARCHPATH_SEPARATOR_S, -1);
      const char *subfolder = "";

      if (g_str_equal (platform, "win32"))
        subfolder = GLIB_SIZEOF_VOID_P == 8 ? "64" : "32";

      return rc_augment_path_env ((const char * const *) dirs, subfolder, to_env, FALSE);
    }

  g_warning ("Environment variable %s is not set, so %s is not updated with "
             "its directories; if a native library then fails to load, this "
             "is a likely cause",
             from_env, to_env);

  current = g_getenv (to_env);
  return g_strdup (current != NULL ? current : "");
}

/**
 * rc_update_path_windows:
 * @from_env: (nullable): the variable that lists the directories of custom
 *   native libraries; %NULL for "LIBRARY_PATH"
 * @to_env: (nullable): the variable to update; %NULL for "PATH"
 *
 * On Windows, sets @to_env to the value that rc_build_new_path_env() proposes,
 * so that native libraries in the directories of @from_env can be loaded.
 * Elsewhere this does nothing at all: the dynamic loader does not search
 * `PATH` there.
 */
void
rc_update_path_windows (const char *from_env,
                        const char *to_env)
{
#ifdef G_OS_WIN32
  g_autofree char *new_value = rc_build_new_path_env (from_env, to_env, "win32");

  g_setenv (to_env != NULL ? to_env : "PATH", new_value, TRUE);
#else
  (void) from_env;
  (void) to_env;
#endif
}
