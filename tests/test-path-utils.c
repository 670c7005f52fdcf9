/* test-path-utils.c: library file names, library lookup, search path variables
 *
 * SPDX-License-Identifier: MIT
 */

#include <refcount/refcount.h>

#include <glib/gstdio.h>
#include <string.h>

#define SEP G_SEARCHPATH_SEPARATOR_S

/* --- helpers ------------------------------------------------------------ */

/* An environment variable saved at the start of a test and put back at the
 * end, whatever the test did to it. */
typedef struct
{
  char *name;
  char *value;
} SavedVariable;

static SavedVariable *
saved_variable_new (const char *name)
{
  SavedVariable *saved = g_new0 (SavedVariable, 1);

  saved->name = g_strdup (name);
  saved->value = g_strdup (g_getenv (name));
  return saved;
}

static void
saved_variable_restore (SavedVariable *saved)
{
  if (saved->value != NULL)
    g_assert_true (g_setenv (saved->name, saved->value, TRUE));
  else
    g_unsetenv (saved->name);

  g_free (saved->name);
  g_free (saved->value);
  g_free (saved);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SavedVariable, saved_variable_restore)

static void
remove_tree (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR) &&
      !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GDir) dir = g_dir_open (path, 0, &error);
      const char *entry;

      g_assert_no_error (error);
      while ((entry = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, entry, NULL);

          remove_tree (child);
        }
      g_assert_cmpint (g_rmdir (path), ==, 0);
    }
  else
    {
      g_assert_cmpint (g_remove (path), ==, 0);
    }
}

/* A scratch directory, removed with everything in it at the end of a test. */
typedef struct
{
  char *path;
} TempDir;

static TempDir *
temp_dir_new (void)
{
  g_autoptr(GError) error = NULL;
  TempDir *tmp = g_new0 (TempDir, 1);

  tmp->path = g_dir_make_tmp ("rc-path-utils-XXXXXX", &error);
  g_assert_no_error (error);
  g_assert_nonnull (tmp->path);
  return tmp;
}

static void
temp_dir_free (TempDir *tmp)
{
  remove_tree (tmp->path);
  g_free (tmp->path);
  g_free (tmp);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TempDir, temp_dir_free)

/* Creates <tmp>/<relative> (and its parents) as a directory; returns its path. */
static char *
temp_dir_mkdir (TempDir    *tmp,
                const char *relative)
{
  char *path = g_build_filename (tmp->path, relative, NULL);

  g_assert_cmpint (g_mkdir_with_parents (path, 0700), ==, 0);
  return path;
}

/* Creates <tmp>/<relative> as an empty file (parents must exist). */
static char *
temp_dir_touch (TempDir    *tmp,
                const char *relative)
{
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (tmp->path, relative, NULL);

  g_file_set_contents (path, "", 0, &error);
  g_assert_no_error (error);
  return path;
}

/* --- rc_get_platform ---------------------------------------------------- */

static void
test_platform (void)
{
  const char *platform = rc_get_platform ();

  g_assert_nonnull (platform);
  g_assert_cmpstr (platform, !=, "");
  /* A static string: the same pointer every time. */
  g_assert_true (platform == rc_get_platform ());

#if defined (G_OS_WIN32)
  g_assert_cmpstr (platform, ==, "win32");
#elif defined (__APPLE__)
  g_assert_cmpstr (platform, ==, "darwin");
#elif defined (__linux__)
  g_assert_cmpstr (platform, ==, "linux");
#endif
}

/* --- rc_library_short_filename ------------------------------------------ */

static void
check_short_filename (const char *name,
                      const char *platform,
                      const char *expected)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *short_name = rc_library_short_filename (name, platform, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (short_name, ==, expected);
}

static void
test_short_filename_linux (void)
{
  check_short_filename ("dog", "linux", "libdog.so");
  check_short_filename ("R", "linux", "libR.so");
}

static void
test_short_filename_win32 (void)
{
  check_short_filename ("dog", "win32", "dog.dll");
  check_short_filename ("R", "win32", "R.dll");
}

static void
test_short_filename_darwin (void)
{
  check_short_filename ("dog", "darwin", "libdog.dylib");
}

static void
test_short_filename_default_platform (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *with_null = rc_library_short_filename ("dog", NULL, &error);
  g_autofree char *explicit = NULL;

#if defined (__linux__)
  g_assert_no_error (error);
  g_assert_cmpstr (with_null, ==, "libdog.so");
#elif defined (G_OS_WIN32)
  g_assert_no_error (error);
  g_assert_cmpstr (with_null, ==, "dog.dll");
#elif defined (__APPLE__)
  g_assert_no_error (error);
  g_assert_cmpstr (with_null, ==, "libdog.dylib");
#endif

  /* Whatever the platform: NULL means the running one, error included. */
  g_clear_error (&error);
  explicit = rc_library_short_filename ("dog", rc_get_platform (), NULL);
  g_assert_cmpstr (with_null, ==, explicit);
}

static void
test_short_filename_unsupported (void)
{
  const char *platforms[] = { "sunos5", "", "Linux", "linux2" };

  for (guint i = 0; i < G_N_ELEMENTS (platforms); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *short_name = NULL;
      g_autofree char *quoted = g_strdup_printf ("'%s'", platforms[i]);

      short_name = rc_library_short_filename ("dog", platforms[i], &error);
      g_assert_null (short_name);
      g_assert_error (error, RC_ERROR, RC_ERROR_NOT_IMPLEMENTED);
      g_assert_nonnull (strstr (error->message, quoted));
    }

  /* Ignoring the error is allowed. */
  g_assert_null (rc_library_short_filename ("dog", "sunos5", NULL));
}

static void
test_short_filename_null_name (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *short_name = NULL;

  /* A GError, not a critical: fatal-criticals would abort here otherwise. */
  short_name = rc_library_short_filename (NULL, "linux", &error);
  g_assert_null (short_name);
  g_assert_error (error, RC_ERROR, RC_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* Checked before the platform. */
  g_assert_null (rc_library_short_filename (NULL, "sunos5", &error));
  g_assert_error (error, RC_ERROR, RC_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  g_assert_null (rc_library_short_filename (NULL, NULL, &error));
  g_assert_error (error, RC_ERROR, RC_ERROR_INVALID_ARGUMENT);

  g_assert_null (rc_library_short_filename (NULL, NULL, NULL));
}

static void
test_short_filename_error_set (void)
{
  GError *error = g_error_new_literal (RC_ERROR, RC_ERROR_FAILED, "earlier");
  char *short_name;

  g_test_expect_message ("Refcount", G_LOG_LEVEL_CRITICAL, "*error == NULL*");
  short_name = rc_library_short_filename ("dog", "linux", &error);
  g_test_assert_expected_messages ();

  g_assert_null (short_name);
  g_assert_error (error, RC_ERROR, RC_ERROR_FAILED);
  g_error_free (error);
}

/* --- rc_find_full_path -------------------------------------------------- */

static void
test_find_full_path_null_name (void)
{
  g_autoptr(TempDir) tmp = temp_dir_new ();

  g_assert_null (rc_find_full_path (NULL, NULL));
  g_assert_null (rc_find_full_path (NULL, tmp->path));
}

/* The short file name of @name for the running platform. */
static char *
native_short_filename (const char *name)
{
  g_autoptr(GError) error = NULL;
  char *short_name = rc_library_short_filename (name, NULL, &error);

  g_assert_no_error (error);
  return short_name;
}

static void
test_find_full_path_prefix (void)
{
  const char *name = "rc-putils-test-dog";
  g_autoptr(TempDir) tmp = temp_dir_new ();
  g_autofree char *short_name = NULL;
  g_autofree char *lib64 = NULL;
  g_autofree char *lib64_file = NULL;
  g_autofree char *relative = NULL;
  g_autofree char *found = NULL;

  if (!g_str_equal (rc_get_platform (), "linux") &&
      !g_str_equal (rc_get_platform (), "win32") &&
      !g_str_equal (rc_get_platform (), "darwin"))
    {
      g_test_skip ("no library file names on this platform");
      return;
    }

  short_name = native_short_filename (name);

  /* Nothing yet. */
  g_assert_null (rc_find_full_path (name, tmp->path));

  /* Directories not starting with "lib", and "lib" entries that are files,
   * are not searched. */
  g_free (temp_dir_mkdir (tmp, "bin"));
  relative = g_build_filename ("bin", short_name, NULL);
  g_free (temp_dir_touch (tmp, relative));
  g_free (temp_dir_touch (tmp, "libfile"));
  g_free (temp_dir_mkdir (tmp, "Library"));
  g_clear_pointer (&relative, g_free);
  relative = g_build_filename ("Library", short_name, NULL);
  g_free (temp_dir_touch (tmp, relative));
  g_assert_null (rc_find_full_path (name, tmp->path));

  /* Under lib64. */
  lib64 = temp_dir_mkdir (tmp, "lib64");
  g_clear_pointer (&relative, g_free);
  relative = g_build_filename ("lib64", short_name, NULL);
  lib64_file = temp_dir_touch (tmp, relative);
  found = rc_find_full_path (name, tmp->path);
  g_assert_cmpstr (found, ==, lib64_file);
  g_clear_pointer (&found, g_free);

  /* An empty "lib" is passed over for "lib64"... */
  g_free (temp_dir_mkdir (tmp, "lib"));
  found = rc_find_full_path (name, tmp->path);
  g_assert_cmpstr (found, ==, lib64_file);
  g_clear_pointer (&found, g_free);

  /* ...but wins, in byte order, as soon as it has the library; and so does
   * "lib32" over "lib64". */
  {
    g_autofree char *lib32_relative = g_build_filename ("lib32", short_name, NULL);
    g_autofree char *lib32_file = NULL;
    g_autofree char *lib_relative = g_build_filename ("lib", short_name, NULL);
    g_autofree char *lib_file = NULL;

    g_free (temp_dir_mkdir (tmp, "lib32"));
    lib32_file = temp_dir_touch (tmp, lib32_relative);
    found = rc_find_full_path (name, tmp->path);
    g_assert_cmpstr (found, ==, lib32_file);
    g_clear_pointer (&found, g_free);

    lib_file = temp_dir_touch (tmp, lib_relative);
    found = rc_find_full_path (name, tmp->path);
    g_assert_cmpstr (found, ==, lib_file);
    g_clear_pointer (&found, g_free);
  }

  /* A file of another name does not count. */
  g_assert_null (rc_find_full_path ("rc-putils-test-cat", tmp->path));
}

static void
test_find_full_path_prefix_before_system (void)
{
  g_autoptr(TempDir) tmp = temp_dir_new ();
  g_autofree char *short_name = NULL;
  g_autofree char *relative = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *found = NULL;

#ifndef __linux__
  g_test_skip ("the system lookup is tested on Linux");
  return;
#endif

  short_name = native_short_filename ("c");
  g_free (temp_dir_mkdir (tmp, "lib"));
  relative = g_build_filename ("lib", short_name, NULL);
  expected = temp_dir_touch (tmp, relative);

  found = rc_find_full_path ("c", tmp->path);
  g_assert_cmpstr (found, ==, expected);
}

static void
test_find_full_path_system (void)
{
  g_autoptr(TempDir) tmp = temp_dir_new ();
  g_autofree char *missing = g_build_filename (tmp->path, "no-such-prefix", NULL);
  g_autofree char *libc = NULL;
  g_autofree char *libc_missing_prefix = NULL;
  g_autofree char *libz = NULL;
  g_autofree char *libm = NULL;

#ifndef __linux__
  g_test_skip ("ldconfig lookup only exists on Linux");
  return;
#endif

  /* Nothing under the (empty) prefix: what ctypes.util.find_library gives. */
  libc = rc_find_full_path ("c", tmp->path);
  g_assert_cmpstr (libc, ==, "libc.so.6");

  libc_missing_prefix = rc_find_full_path ("c", missing);
  g_assert_cmpstr (libc_missing_prefix, ==, "libc.so.6");

  libm = rc_find_full_path ("m", tmp->path);
  g_assert_nonnull (libm);
  g_assert_true (g_str_has_prefix (libm, "libm.so."));

  /* "z" must stop at the name: libz3.so and libzstd.so do not count. */
  libz = rc_find_full_path ("z", tmp->path);
  g_assert_nonnull (libz);
  g_assert_true (g_str_has_prefix (libz, "libz.so"));
  g_assert_null (rc_find_full_path ("zs", tmp->path));
}

static void
test_find_full_path_default_prefix (void)
{
  g_autofree char *libc = NULL;

#ifndef __linux__
  g_test_skip ("the system lookup is tested on Linux");
  return;
#endif

  /* Either under the installation prefix (a prefix of /usr with 32-bit
   * development files has /usr/lib32/libc.so) or from the loader's cache. */
  libc = rc_find_full_path ("c", NULL);
  g_assert_nonnull (libc);
  g_assert_true (g_str_equal (libc, "libc.so.6") ||
                 (g_path_is_absolute (libc) && g_str_has_suffix (libc, G_DIR_SEPARATOR_S "libc.so")));
}

static void
test_find_full_path_not_found (void)
{
  g_autoptr(TempDir) tmp = temp_dir_new ();
  const char *name = "rc-no-such-library-4f1d2b";

  g_assert_null (rc_find_full_path (name, tmp->path));
  g_assert_null (rc_find_full_path (name, NULL));
  g_assert_null (rc_find_full_path ("", tmp->path));
}

/* --- rc_augment_path_env ------------------------------------------------ */

typedef struct
{
  TempDir *tmp;
  char *a;
  char *a64;
  char *b;
  char *missing;
} PathFixture;

static void
path_fixture_set_up (PathFixture   *fixture,
                     gconstpointer  data)
{
  fixture->tmp = temp_dir_new ();
  fixture->a = temp_dir_mkdir (fixture->tmp, "a");
  fixture->a64 = temp_dir_mkdir (fixture->tmp, "a" G_DIR_SEPARATOR_S "64");
  fixture->b = temp_dir_mkdir (fixture->tmp, "b");
  fixture->missing = g_build_filename (fixture->tmp->path, "missing", NULL);
}

static void
path_fixture_tear_down (PathFixture   *fixture,
                        gconstpointer  data)
{
  g_free (fixture->a);
  g_free (fixture->a64);
  g_free (fixture->b);
  g_free (fixture->missing);
  temp_dir_free (fixture->tmp);
}

#define TO_ENV "RC_TEST_PUTILS_TO"
#define FROM_ENV "RC_TEST_PUTILS_FROM"

static void
check_augment (const char * const *added,
               const char         *subfolder,
               const char         *to_env,
               gboolean            prepend,
               const char         *expected)
{
  const char *env_name = to_env != NULL ? to_env : "PATH";
  g_autofree char *before = g_strdup (g_getenv (env_name));
  g_autofree char *result = rc_augment_path_env (added, subfolder, to_env, prepend);

  g_assert_cmpstr (result, ==, expected);
  /* The environment is left alone. */
  g_assert_cmpstr (g_getenv (env_name), ==, before);
}

static void
test_augment_unset (PathFixture   *fixture,
                    gconstpointer  data)
{
  g_autoptr(SavedVariable) saved = saved_variable_new (TO_ENV);
  const char *added[] = { fixture->a, fixture->missing, fixture->b, NULL };
  g_autofree char *a_b = g_strjoin (SEP, fixture->a, fixture->b, NULL);

  g_unsetenv (TO_ENV);
  check_augment (added, NULL, TO_ENV, FALSE, a_b);
  check_augment (added, NULL, TO_ENV, TRUE, a_b);
  g_assert_null (g_getenv (TO_ENV));

  /* Set but empty is the same as unset: no stray separator. */
  g_assert_true (g_setenv (TO_ENV, "", TRUE));
  check_augment (added, NULL, TO_ENV, FALSE, a_b);
  check_augment (added, NULL, TO_ENV, TRUE, a_b);
}

static void
test_augment_append_prepend (PathFixture   *fixture,
                             gconstpointer  data)
{
  g_autoptr(SavedVariable) saved = saved_variable_new (TO_ENV);
  const char *added[] = { fixture->missing, fixture->b, fixture->a, NULL };
  const char *current = "/x" SEP "/y";
  g_autofree char *appended = g_strjoin (SEP, current, fixture->b, fixture->a, NULL);
  g_autofree char *prepended = g_strjoin (SEP, fixture->b, fixture->a, current, NULL);

  g_assert_true (g_setenv (TO_ENV, current, TRUE));
  check_augment (added, NULL, TO_ENV, FALSE, appended);
  check_augment (added, NULL, TO_ENV, TRUE, prepended);
}

static void
test_augment_nothing_exists (PathFixture   *fixture,
                             gconstpointer  data)
{
  g_autoptr(SavedVariable) saved = saved_variable_new (TO_ENV);
  const char *added[] = { fixture->missing, NULL };
  const char *empty[] = { NULL };

  /* The current value alone, without a trailing or leading separator. */
  g_assert_true (g_setenv (TO_ENV, "/x", TRUE));
  check_augment (added, NULL, TO_ENV, FALSE, "/x");
  check_augment (added, NULL, TO_ENV, TRUE, "/x");
  check_augment (empty, NULL, TO_ENV, FALSE, "/x");
  check_augment (NULL, NULL, TO_ENV, TRUE, "/x");

  g_unsetenv (TO_ENV);
  check_augment (added, NULL, TO_ENV, FALSE, "");
  check_augment (NULL, NULL, TO_ENV, FALSE, "");
}

static void
test_augment_subfolder (PathFixture   *fixture,
                        gconstpointer  data)
{
  g_autoptr(SavedVariable) saved = saved_variable_new (TO_ENV);
  const char *added[] = { fixture->a, fixture->b, NULL };
  g_autofree char *a_b = g_strjoin (SEP, fixture->a, fixture->b, NULL);
  g_autofree char *with_x = g_strjoin (SEP, "/x", fixture->a64, NULL);

  g_unsetenv (TO_ENV);
  /* Only a/64 exists. */
  check_augment (added, "64", TO_ENV, FALSE, fixture->a64);
  check_augment (added, "32", TO_ENV, FALSE, "");
  /* An empty subfolder is no subfolder (no trailing separator either). */
  check_augment (added, "", TO_ENV, FALSE, a_b);
  check_augment (added, NULL, TO_ENV, FALSE, a_b);

  g_assert_true (g_setenv (TO_ENV, "/x", TRUE));
  check_augment (added, "64", TO_ENV, FALSE, with_x);
}

static void
test_augment_empty_entry (PathFixture   *fixture,
                          gconstpointer  data)
{
  g_autoptr(SavedVariable) saved = saved_variable_new (TO_ENV);
  g_autofree char *cwd = g_get_current_dir ();
  const char *added[] = { "", fixture->b, NULL };

  g_unsetenv (TO_ENV);

  /* From the directory that has "64", an empty entry joined with "64" would
   * be the relative path "64", which exists: it must be skipped instead. */
  g_assert_cmpint (g_chdir (fixture->a), ==, 0);
  check_augment (added, "64", TO_ENV, FALSE, "");
  check_augment (added, NULL, TO_ENV, FALSE, fixture->b);
  g_assert_cmpint (g_chdir (cwd), ==, 0);
}

static void
test_augment_default_variable (PathFixture   *fixture,
                               gconstpointer  data)
{
  g_autoptr(SavedVariable) saved = saved_variable_new ("PATH");
  const char *added[] = { fixture->a, NULL };
  const char *current = "/usr/bin" SEP "/bin";
  g_autofree char *expected = g_strjoin (SEP, current, fixture->a, NULL);

  g_assert_true (g_setenv ("PATH", current, TRUE));
  check_augment (added, NULL, NULL, FALSE, expected);
}

/* --- rc_build_new_path_env ---------------------------------------------- */

static void
check_build (const char *from_env,
             const char *to_env,
             const char *platform,
             const char *expected)
{
  g_autofree char *from_before = g_strdup (g_getenv (from_env != NULL ? from_env : "LIBRARY_PATH"));
  g_autofree char *to_before = g_strdup (g_getenv (to_env != NULL ? to_env : "PATH"));
  g_autofree char *result = rc_build_new_path_env (from_env, to_env, platform);

  g_assert_cmpstr (result, ==, expected);
  g_assert_cmpstr (g_getenv (from_env != NULL ? from_env : "LIBRARY_PATH"), ==, from_before);
  g_assert_cmpstr (g_getenv (to_env != NULL ? to_env : "PATH"), ==, to_before);
}

static void
test_build_from_set (PathFixture   *fixture,
                     gconstpointer  data)
{
  g_autoptr(SavedVariable) saved_from = saved_variable_new (FROM_ENV);
  g_autoptr(SavedVariable) saved_to = saved_variable_new (TO_ENV);
  g_autofree char *from = g_strjoin (SEP, fixture->a, fixture->missing, fixture->b, NULL);
  g_autofree char *expected = g_strjoin (SEP, "/x", fixture->a, fixture->b, NULL);
  g_autofree char *expected_unset = g_strjoin (SEP, fixture->a, fixture->b, NULL);

  g_assert_true (g_setenv (FROM_ENV, from, TRUE));
  g_assert_true (g_setenv (TO_ENV, "/x", TRUE));

  /* No subfolder outside Windows; always appended. */
  check_build (FROM_ENV, TO_ENV, "linux", expected);
  check_build (FROM_ENV, TO_ENV, "darwin", expected);
#ifndef G_OS_WIN32
  check_build (FROM_ENV, TO_ENV, NULL, expected);
#endif

  g_unsetenv (TO_ENV);
  check_build (FROM_ENV, TO_ENV, "linux", expected_unset);

  /* Set but empty: nothing to add, and no warning either. */
  g_assert_true (g_setenv (FROM_ENV, "", TRUE));
  g_assert_true (g_setenv (TO_ENV, "/x", TRUE));
  check_build (FROM_ENV, TO_ENV, "linux", "/x");
}

static void
test_build_win32_subfolder (PathFixture   *fixture,
                            gconstpointer  data)
{
  g_autoptr(SavedVariable) saved_from = saved_variable_new (FROM_ENV);
  g_autoptr(SavedVariable) saved_to = saved_variable_new (TO_ENV);
  g_autofree char *from = g_strjoin (SEP, fixture->a, fixture->b, NULL);
  g_autofree char *b32 = NULL;
  g_autofree char *expected = NULL;

  g_assert_true (g_setenv (FROM_ENV, from, TRUE));
  g_assert_true (g_setenv (TO_ENV, "/x", TRUE));

  /* a/64 and b/32 exist: the process's word size picks one of them. */
  b32 = temp_dir_mkdir (fixture->tmp, "b" G_DIR_SEPARATOR_S "32");
  if (GLIB_SIZEOF_VOID_P == 8)
    expected = g_strjoin (SEP, "/x", fixture->a64, NULL);
  else
    expected = g_strjoin (SEP, "/x", b32, NULL);

  check_build (FROM_ENV, TO_ENV, "win32", expected);
#ifdef G_OS_WIN32
  check_build (FROM_ENV, TO_ENV, NULL, expected);
#endif
}

static void
test_build_from_unset (PathFixture   *fixture,
                       gconstpointer  data)
{
  g_autoptr(SavedVariable) saved_from = saved_variable_new (FROM_ENV);
  g_autoptr(SavedVariable) saved_to = saved_variable_new (TO_ENV);

  g_unsetenv (FROM_ENV);
  g_assert_true (g_setenv (TO_ENV, "/x" SEP "/y", TRUE));

  g_test_expect_message ("Refcount", G_LOG_LEVEL_WARNING,
                         "*" FROM_ENV " is not set*" TO_ENV "*");
  check_build (FROM_ENV, TO_ENV, "linux", "/x" SEP "/y");
  g_test_assert_expected_messages ();

  /* Both unset: an empty string, not NULL. */
  g_unsetenv (TO_ENV);
  g_test_expect_message ("Refcount", G_LOG_LEVEL_WARNING,
                         "*" FROM_ENV " is not set*" TO_ENV "*");
  check_build (FROM_ENV, TO_ENV, "win32", "");
  g_test_assert_expected_messages ();
}

static void
test_build_defaults (PathFixture   *fixture,
                     gconstpointer  data)
{
  g_autoptr(SavedVariable) saved_from = saved_variable_new ("LIBRARY_PATH");
  g_autoptr(SavedVariable) saved_to = saved_variable_new ("PATH");
  const char *current = "/usr/bin" SEP "/bin";
  g_autofree char *expected = NULL;

  g_assert_true (g_setenv ("PATH", current, TRUE));
  g_assert_true (g_setenv ("LIBRARY_PATH", fixture->b, TRUE));
  expected = g_strjoin (SEP, current, fixture->b, NULL);
  check_build (NULL, NULL, "linux", expected);

  g_unsetenv ("LIBRARY_PATH");
  g_test_expect_message ("Refcount", G_LOG_LEVEL_WARNING,
                         "*LIBRARY_PATH is not set*PATH*");
  check_build (NULL, NULL, NULL, current);
  g_test_assert_expected_messages ();
}

/* --- rc_update_path_windows --------------------------------------------- */

static void
test_update_path_windows (PathFixture   *fixture,
                          gconstpointer  data)
{
  g_autoptr(SavedVariable) saved_from = saved_variable_new (FROM_ENV);
  g_autoptr(SavedVariable) saved_to = saved_variable_new (TO_ENV);
  g_autofree char *from = g_strjoin (SEP, fixture->a, fixture->b, NULL);

  g_assert_true (g_setenv (FROM_ENV, from, TRUE));
  g_assert_true (g_setenv (TO_ENV, "/x", TRUE));

  rc_update_path_windows (FROM_ENV, TO_ENV);
  g_assert_cmpstr (g_getenv (FROM_ENV), ==, from);
#ifdef G_OS_WIN32
  /* Only a\64 exists, so a 32-bit process adds nothing. */
  if (GLIB_SIZEOF_VOID_P == 8)
    {
      g_autofree char *expected = g_strjoin (SEP, "/x", fixture->a64, NULL);

      g_assert_cmpstr (g_getenv (TO_ENV), ==, expected);
    }
  else
    {
      g_assert_cmpstr (g_getenv (TO_ENV), ==, "/x");
    }
#else
  /* Nothing at all elsewhere. */
  g_assert_cmpstr (g_getenv (TO_ENV), ==, "/x");

  /* Not even the warning about an unset variable (it would be fatal here),
   * and an unset target stays unset. */
  g_unsetenv (FROM_ENV);
  g_unsetenv (TO_ENV);
  rc_update_path_windows (FROM_ENV, TO_ENV);
  g_assert_null (g_getenv (TO_ENV));
  g_assert_null (g_getenv (FROM_ENV));
  {
    g_autofree char *path_before = g_strdup (g_getenv ("PATH"));

    rc_update_path_windows (NULL, NULL);
    g_assert_cmpstr (g_getenv ("PATH"), ==, path_before);
  }
#endif
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/path-utils/platform", test_platform);

  g_test_add_func ("/path-utils/short-filename/linux", test_short_filename_linux);
  g_test_add_func ("/path-utils/short-filename/win32", test_short_filename_win32);
  g_test_add_func ("/path-utils/short-filename/darwin", test_short_filename_darwin);
  g_test_add_func ("/path-utils/short-filename/default-platform", test_short_filename_default_platform);
  g_test_add_func ("/path-utils/short-filename/unsupported", test_short_filename_unsupported);
  g_test_add_func ("/path-utils/short-filename/null-name", test_short_filename_null_name);
  g_test_add_func ("/path-utils/short-filename/error-already-set", test_short_filename_error_set);

  g_test_add_func ("/path-utils/find-full-path/null-name", test_find_full_path_null_name);
  g_test_add_func ("/path-utils/find-full-path/prefix", test_find_full_path_prefix);
  g_test_add_func ("/path-utils/find-full-path/prefix-before-system", test_find_full_path_prefix_before_system);
  g_test_add_func ("/path-utils/find-full-path/system", test_find_full_path_system);
  g_test_add_func ("/path-utils/find-full-path/default-prefix", test_find_full_path_default_prefix);
  g_test_add_func ("/path-utils/find-full-path/not-found", test_find_full_path_not_found);

#define ADD_PATH_TEST(path, func) \
  g_test_add (path, PathFixture, NULL, path_fixture_set_up, func, path_fixture_tear_down)

  ADD_PATH_TEST ("/path-utils/augment-path-env/unset", test_augment_unset);
  ADD_PATH_TEST ("/path-utils/augment-path-env/append-prepend", test_augment_append_prepend);
  ADD_PATH_TEST ("/path-utils/augment-path-env/nothing-exists", test_augment_nothing_exists);
  ADD_PATH_TEST ("/path-utils/augment-path-env/subfolder", test_augment_subfolder);
  ADD_PATH_TEST ("/path-utils/augment-path-env/empty-entry", test_augment_empty_entry);
  ADD_PATH_TEST ("/path-utils/augment-path-env/default-variable", test_augment_default_variable);

  ADD_PATH_TEST ("/path-utils/build-new-path-env/from-set", test_build_from_set);
  ADD_PATH_TEST ("/path-utils/build-new-path-env/win32-subfolder", test_build_win32_subfolder);
  ADD_PATH_TEST ("/path-utils/build-new-path-env/from-unset", test_build_from_unset);
  ADD_PATH_TEST ("/path-utils/build-new-path-env/defaults", test_build_defaults);

  ADD_PATH_TEST ("/path-utils/update-path-windows", test_update_path_windows);

#undef ADD_PATH_TEST

  return g_test_run ();
}
