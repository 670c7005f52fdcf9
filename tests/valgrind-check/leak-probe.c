/* A Python extension that makes, on demand, the errors memcheck must report
 * in refcount's own code: built like the overrides' C accelerator (an
 * extension module linked against librefcount), it stands in for it in
 * test-valgrind-check.py, which checks that valgrind-check.py counts them
 * under this system's Python. Never installed. */

#include <Python.h>

#include <stdlib.h>
#include <string.h>

#include <refcount/refcount.h>

/* Where a pointer is stored and then forgotten; volatile, so that the
 * compiler keeps each allocation and each read. */
static void *volatile probe_sink;

static void
probe_release (gpointer handle)
{
}

/* A block allocated here and never freed: a leak in the extension. */
static PyObject *
probe_leak_block (PyObject *self, PyObject *args)
{
  probe_sink = malloc (4096);
  if (probe_sink == NULL)
    return PyErr_NoMemory ();
  probe_sink = NULL;
  Py_RETURN_NONE;
}

/* A handle made by the library and never unreferenced: a leak whose
 * allocation lies in librefcount (and GObject under it). */
static PyObject *
probe_leak_handle (PyObject *self, PyObject *args)
{
  probe_sink = rc_deletable_native_handle_new_native (GSIZE_TO_POINTER (1),
                                                      (gpointer) probe_release, "LEAK_PROBE");
  probe_sink = NULL;
  Py_RETURN_NONE;
}

/* A branch on memory nobody wrote: what memcheck calls "Conditional jump or
 * move depends on uninitialised value(s)". */
static PyObject *
probe_branch_on_uninitialised (PyObject *self, PyObject *args)
{
  int *value;
  PyObject *result;

  probe_sink = malloc (sizeof *value);
  value = probe_sink;
  if (value == NULL)
    return PyErr_NoMemory ();
  /* Two different calls, so that the compiler keeps the branch. */
  if (*value > 0)
    result = PyUnicode_FromString ("positive");
  else
    result = PyLong_FromLong (0);
  free (value);
  return result;
}

/* Memory the interpreter allocated for this extension (a bytes object made
 * with no contents) and nobody wrote, handed back to the interpreter: it
 * branches on it (PyLong_FromLong's small-int check). The extension only
 * copies the bytes, without branching on them. */
static PyObject *
probe_int_from_uninitialised_bytes (PyObject *self, PyObject *args)
{
  PyObject *bytes = PyBytes_FromStringAndSize (NULL, sizeof (long));
  PyObject *result;
  long value;

  if (bytes == NULL)
    return NULL;
  memcpy (&value, PyBytes_AS_STRING (bytes), sizeof value);
  result = PyLong_FromLong (value);
  Py_DECREF (bytes);
  return result;
}

/* Bytes the interpreter allocates for the extension and nobody writes: the
 * interpreter alone reads them when Python code compares them, so only the
 * value's origin names the extension. */
static PyObject *
probe_uninitialised_bytes (PyObject *self, PyObject *args)
{
  PyObject *bytes = PyBytes_FromStringAndSize (NULL, 8);

  /* (A store after the call: no tail call hides this frame from the
   * allocation's stack.) */
  probe_sink = bytes;
  return bytes;
}

/* Calls a Python callable from the extension, as the accelerator calls
 * release functions. */
static PyObject *
probe_call (PyObject *self, PyObject *callable)
{
  return PyObject_CallNoArgs (callable);
}

static PyMethodDef probe_methods[] = {
  { "leak_block", probe_leak_block, METH_NOARGS, NULL },
  { "leak_handle", probe_leak_handle, METH_NOARGS, NULL },
  { "branch_on_uninitialised", probe_branch_on_uninitialised, METH_NOARGS, NULL },
  { "int_from_uninitialised_bytes", probe_int_from_uninitialised_bytes, METH_NOARGS, NULL },
  { "uninitialised_bytes", probe_uninitialised_bytes, METH_NOARGS, NULL },
  { "call", probe_call, METH_O, NULL },
  { NULL, NULL, 0, NULL },
};

static struct PyModuleDef probe_module = {
  PyModuleDef_HEAD_INIT,
  .m_name = "_rc_leak_probe",
  .m_size = 0,
  .m_methods = probe_methods,
};

PyMODINIT_FUNC PyInit__rc_leak_probe (void);

PyMODINIT_FUNC
PyInit__rc_leak_probe (void)
{
  return PyModuleDef_Init (&probe_module);
}
