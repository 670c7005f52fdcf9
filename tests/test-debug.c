/* test-debug.c: run-time version and debug information
 *
 * SPDX-License-Identifier: MIT
 */

#include <refcount/refcount.h>

#include <string.h>

#ifdef G_OS_UNIX
# include <sys/utsname.h>
#endif

static void
test_version (void)
{
  g_autofree char *runtime = NULL;

  g_assert_cmpuint (rc_get_major_version (), ==, RC_MAJOR_VERSION);
  g_assert_cmpuint (rc_get_minor_version (), ==, RC_MINOR_VERSION);
  g_assert_cmpuint (rc_get_micro_version (), ==, RC_MICRO_VERSION);

  runtime = g_strdup_printf ("%u.%u.%u", rc_get_major_version (),
                             rc_get_minor_version (), rc_get_micro_version ());
  g_assert_cmpstr (runtime, ==, RC_VERSION_S);
  g_assert_true (RC_CHECK_VERSION ((int) rc_get_major_version (),
                                   (int) rc_get_minor_version (),
                                   (int) rc_get_micro_version ()));
  g_assert_false (RC_CHECK_VERSION ((int) rc_get_major_version (),
                                    (int) rc_get_minor_version (),
                                    (int) rc_get_micro_version () + 1));
}

/* Whether @info has @line as a whole line. */
static gboolean
has_line (const char *info,
          const char *line)
{
  g_autofree char *needle = g_strconcat ("\n", line, "\n", NULL);
  g_autofree char *haystack = g_strconcat ("\n", info, NULL);

  return strstr (haystack, needle) != NULL;
}

/* The offset of @line as a whole line in @info, or -1. */
static gssize
line_offset (const char *info,
             const char *line)
{
  g_autofree char *needle = g_strconcat ("\n", line, "\n", NULL);
  g_autofree char *haystack = g_strconcat ("\n", info, NULL);
  const char *found = strstr (haystack, needle);

  return found != NULL ? found - haystack : -1;
}

static void
test_info_contents (void)
{
  g_autofree char *info = rc_get_debug_info ();
  g_autofree char *version = g_strdup_printf ("refcount: %s", RC_VERSION_S);
  g_autofree char *glib_runtime = g_strdup_printf ("GLib (run time): %u.%u.%u",
                                                   glib_major_version,
                                                   glib_minor_version,
                                                   glib_micro_version);
  g_autofree char *glib_compiled = g_strdup_printf ("GLib (compile time): %d.%d.%d",
                                                    GLIB_MAJOR_VERSION,
                                                    GLIB_MINOR_VERSION,
                                                    GLIB_MICRO_VERSION);
  g_autofree char *platform = g_strdup_printf ("Platform: %s", rc_get_platform ());
  g_autofree char *os_name = g_get_os_info (G_OS_INFO_KEY_PRETTY_NAME);
  g_autofree char *os_line = g_strdup_printf ("Operating system: %s",
                                              os_name != NULL ? os_name : "unknown");
  g_autofree char *pointer = g_strdup_printf ("Pointer size: %d bits",
                                              (int) sizeof (gpointer) * 8);

  g_assert_nonnull (info);
  g_assert_true (g_str_has_suffix (info, "\n"));
  g_assert_true (g_str_has_prefix (info, version));
  g_assert_true (has_line (info, version));
  g_assert_true (has_line (info, glib_runtime));
  g_assert_true (has_line (info, glib_compiled));
  g_assert_true (has_line (info, platform));
  g_assert_true (has_line (info, os_line));
  g_assert_true (has_line (info, pointer));

#ifdef G_OS_UNIX
  {
    struct utsname uts;
    g_autofree char *kernel = NULL;

    g_assert_cmpint (uname (&uts), ==, 0);
    kernel = g_strdup_printf ("Kernel: %s %s %s", uts.sysname, uts.release, uts.machine);
    g_assert_true (has_line (info, kernel));
  }
#endif

  /* A new string each time. */
  {
    g_autofree char *again = rc_get_debug_info ();

    g_assert_true (again != info);
  }
}

typedef struct
{
  char *name;
  char *value;
} SavedVariable;

static void
saved_variable_free (gpointer data)
{
  SavedVariable *saved = data;

  g_free (saved->name);
  g_free (saved->value);
  g_free (saved);
}

/* Unsets every RC_* and REFCOUNT* variable; returns them for restore_variables(). */
static GPtrArray *
unset_refcount_variables (void)
{
  GPtrArray *saved = g_ptr_array_new_with_free_func (saved_variable_free);
  g_auto(GStrv) names = g_listenv ();

  for (guint i = 0; names[i] != NULL; i++)
    {
      if (g_str_has_prefix (names[i], "RC_") || g_str_has_prefix (names[i], "REFCOUNT"))
        {
          SavedVariable *variable = g_new0 (SavedVariable, 1);

          variable->name = g_strdup (names[i]);
          variable->value = g_strdup (g_getenv (names[i]));
          g_ptr_array_add (saved, variable);
          g_unsetenv (names[i]);
        }
    }

  return saved;
}

static void
restore_variables (GPtrArray *saved)
{
  for (guint i = 0; i < saved->len; i++)
    {
      SavedVariable *variable = g_ptr_array_index (saved, i);

      if (variable->value != NULL)
        g_assert_true (g_setenv (variable->name, variable->value, TRUE));
    }
  g_ptr_array_unref (saved);
}

static void
test_info_no_variables (void)
{
  GPtrArray *saved = unset_refcount_variables ();
  g_autofree char *info = NULL;

  g_assert_null (g_getenv ("RC_DEBUG"));
  g_assert_true (g_setenv ("NOT_RC_TEST_DEBUG", "delta", TRUE));

  info = rc_get_debug_info ();
  g_assert_true (has_line (info, "Environment variables (RC_*, REFCOUNT*): none"));
  g_assert_null (strstr (info, "NOT_RC_TEST_DEBUG"));
  g_assert_null (strstr (info, "delta"));

  g_unsetenv ("NOT_RC_TEST_DEBUG");
  restore_variables (saved);
}

static void
test_info_variables (void)
{
  GPtrArray *saved = unset_refcount_variables ();
  g_autofree char *info = NULL;
  gssize header, rc_a, rc_empty, refcount_x, refcount_b;

  g_assert_true (g_setenv ("RC_TEST_DEBUG_A", "alpha", TRUE));
  g_assert_true (g_setenv ("RC_TEST_DEBUG_EMPTY", "", TRUE));
  g_assert_true (g_setenv ("REFCOUNT_TEST_B", "beta with spaces", TRUE));
  g_assert_true (g_setenv ("REFCOUNTX", "gamma", TRUE));
  g_assert_true (g_setenv ("NOT_RC_TEST_DEBUG", "delta", TRUE));
  g_assert_true (g_setenv ("rc_test_debug_lower", "epsilon", TRUE));
  g_assert_true (g_setenv ("RCX_TEST_DEBUG", "zeta", TRUE));

  info = rc_get_debug_info ();

  header = line_offset (info, "Environment variables (RC_*, REFCOUNT*):");
  rc_a = line_offset (info, "RC_TEST_DEBUG_A=alpha");
  rc_empty = line_offset (info, "RC_TEST_DEBUG_EMPTY=");
  refcount_b = line_offset (info, "REFCOUNT_TEST_B=beta with spaces");
  refcount_x = line_offset (info, "REFCOUNTX=gamma");

  g_assert_cmpint (header, >=, 0);
  g_assert_cmpint (rc_a, >=, 0);
  g_assert_cmpint (rc_empty, >=, 0);
  g_assert_cmpint (refcount_b, >=, 0);
  g_assert_cmpint (refcount_x, >=, 0);

  /* After the header, sorted by name in byte order. */
  g_assert_cmpint (header, <, rc_a);
  g_assert_cmpint (rc_a, <, rc_empty);
  g_assert_cmpint (rc_empty, <, refcount_x);
  g_assert_cmpint (refcount_x, <, refcount_b);

  /* Other variables stay out of the report. */
  g_assert_null (strstr (info, "NOT_RC_TEST_DEBUG"));
  g_assert_null (strstr (info, "delta"));
  g_assert_null (strstr (info, "rc_test_debug_lower"));
  g_assert_null (strstr (info, "epsilon"));
  g_assert_null (strstr (info, "RCX_TEST_DEBUG"));
  g_assert_false (has_line (info, "Environment variables (RC_*, REFCOUNT*): none"));

  g_unsetenv ("RC_TEST_DEBUG_A");
  g_unsetenv ("RC_TEST_DEBUG_EMPTY");
  g_unsetenv ("REFCOUNT_TEST_B");
  g_unsetenv ("REFCOUNTX");
  g_unsetenv ("NOT_RC_TEST_DEBUG");
  g_unsetenv ("rc_test_debug_lower");
  g_unsetenv ("RCX_TEST_DEBUG");
  restore_variables (saved);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/debug/version", test_version);
  g_test_add_func ("/debug/info/contents", test_info_contents);
  g_test_add_func ("/debug/info/no-variables", test_info_no_variables);
  g_test_add_func ("/debug/info/variables", test_info_variables);

  return g_test_run ();
}
