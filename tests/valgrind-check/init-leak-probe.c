/* Python extension modules that leak while they initialise, for
 * test-valgrind-check.py: valgrind-check.py leaves out the interpreter's
 * allocations made from the init of a third-party extension module, and this
 * probe shows where that rule stops. Built twice: _rc_init_leak_probe
 * initialises in one phase (its PyInit_ function does the work),
 * _rc_exec_leak_probe in two (the interpreter runs its exec slot, PEP 489).
 * What each leaks at init is read from RC_PROBE_INIT_LEAK:
 *   object  a Python object the interpreter allocates, never released;
 *   handle  a handle librefcount makes, never unreferenced;
 *   block   a block the probe itself allocates, never freed;
 *   (unset) nothing.
 * Never installed. */

#include <Python.h>

#include <stdlib.h>
#include <string.h>

#include <refcount/refcount.h>

/* Where a pointer is stored and then forgotten; volatile, so that the
 * compiler keeps each allocation. */
static void *volatile probe_sink;

static void
probe_release (gpointer handle)
{
}

/* Makes the leak RC_PROBE_INIT_LEAK asks for; 0, or -1 with an exception. */
static int
probe_leak_at_init (void)
{
  const char *what = getenv ("RC_PROBE_INIT_LEAK");

  if (what == NULL || what[0] == '\0')
    return 0;
  if (strcmp (what, "object") == 0)
    {
      /* A new string, too long for any cache, whose reference is dropped
       * on the floor: the interpreter's allocation, made by this init. */
      probe_sink = PyUnicode_FromString ("a string the probe leaks while its module initialises");
      if (probe_sink == NULL)
        return -1;
    }
  else if (strcmp (what, "handle") == 0)
    {
      probe_sink = rc_deletable_native_handle_new_native (GSIZE_TO_POINTER (1),
                                                          (gpointer) probe_release, "LEAK_PROBE");
    }
  else if (strcmp (what, "block") == 0)
    {
      probe_sink = malloc (4096);
      if (probe_sink == NULL)
        {
          PyErr_NoMemory ();
          return -1;
        }
    }
  else
    {
      PyErr_Format (PyExc_ValueError, "RC_PROBE_INIT_LEAK=%s: not object, handle or block", what);
      return -1;
    }
  probe_sink = NULL;
  return 0;
}

#ifdef PROBE_MULTI_PHASE

static int
probe_exec (PyObject *module)
{
  return probe_leak_at_init ();
}

static PyModuleDef_Slot probe_slots[] = {
  { Py_mod_exec, probe_exec },
  { 0, NULL },
};

static struct PyModuleDef probe_module = {
  PyModuleDef_HEAD_INIT,
  .m_name = "_rc_exec_leak_probe",
  .m_size = 0,
  .m_slots = probe_slots,
};

PyMODINIT_FUNC PyInit__rc_exec_leak_probe (void);

PyMODINIT_FUNC
PyInit__rc_exec_leak_probe (void)
{
  return PyModuleDef_Init (&probe_module);
}

#else

static struct PyModuleDef probe_module = {
  PyModuleDef_HEAD_INIT,
  .m_name = "_rc_init_leak_probe",
  .m_size = -1,
};

PyMODINIT_FUNC PyInit__rc_init_leak_probe (void);

PyMODINIT_FUNC
PyInit__rc_init_leak_probe (void)
{
  PyObject *module = PyModule_Create (&probe_module);

  if (module != NULL && probe_leak_at_init () < 0)
    Py_CLEAR (module);
  return module;
}

#endif
