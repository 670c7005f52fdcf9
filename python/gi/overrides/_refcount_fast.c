/* _refcount_fast.c: the hot calls of the Refcount overrides, in C
 *
 * SPDX-License-Identifier: MIT
 *
 * PyGObject's generic call path costs a few hundred nanoseconds per call
 * and a microsecond or two per object; a reference-counting layer is paid on
 * every native object a program touches. This optional module gives the
 * overrides direct calls into librefcount for the few operations that run
 * all the time: reading the handle and the count, add_ref/release, and
 * creating a handle released by a native function. Refcount.py falls back
 * to the GI path when it cannot be imported.
 */

#include <Python.h>

#include <pygobject.h>
#include <refcount/refcount.h>

/* The instance-dict key where the overrides keep the object given as
 * handle (a cffi pointer, a ctypes pointer...), alive while it is needed. */
static PyObject *key_rc_handle;

/* cffi's CData objects hold the pointer right after their type. cffi has
 * no C API, so configure() checks that layout on a probe pointer before
 * the fast path reads it; otherwise the overrides use ffi.cast. */
typedef struct
{
  PyObject_HEAD
  PyObject *c_type;
  char *c_data;
} CffiDataLayout;

static PyTypeObject *cdata_type;      /* cffi's _CDataBase, or NULL */
/* ctypes (cffi type descriptors) seen to be pointers, arrays or functions */
#define N_POINTER_CTYPES 64
static PyObject *pointer_ctypes[N_POINTER_CTYPES];
static int n_pointer_ctypes;

static RcNativeHandle *
as_handle (PyObject *self)
{
  GObject *object;

  if (!PyObject_TypeCheck (self, &PyGObject_Type) ||
      (object = pygobject_get (self)) == NULL ||
      !G_TYPE_CHECK_INSTANCE_TYPE (object, RC_TYPE_NATIVE_HANDLE))
    {
      PyErr_Format (PyExc_TypeError, "expected a Refcount.NativeHandle, got '%s'",
                    Py_TYPE (self)->tp_name);
      return NULL;
    }

  return (RcNativeHandle *) object;
}

/* Lets go of the kept object once the handle no longer needs it. */
static int
forget_kept (PyObject *self)
{
  PyObject *dict = ((PyGObject *) self)->inst_dict;

  if (dict != NULL && PyDict_DelItem (dict, key_rc_handle) < 0)
    {
      if (!PyErr_ExceptionMatches (PyExc_KeyError))
        return -1;
      PyErr_Clear ();
    }
  return 0;
}

static PyObject *
fast_get_handle (PyObject *self,
                 PyObject *Py_UNUSED (unused))
{
  RcNativeHandle *handle = as_handle (self);
  PyObject *dict;
  gpointer address;

  if (handle == NULL)
    return NULL;

  address = rc_native_handle_get_handle (handle);
  if (address == NULL)
    {
      if (forget_kept (self) < 0)
        return NULL;
      Py_RETURN_NONE;
    }

  dict = ((PyGObject *) self)->inst_dict;
  if (dict != NULL)
    {
      PyObject *kept = PyDict_GetItemWithError (dict, key_rc_handle);

      if (kept != NULL && kept != Py_None)
        return Py_NewRef (kept);
      if (PyErr_Occurred ())
        return NULL;
    }

  return PyLong_FromVoidPtr (address);
}

static PyObject *
fast_get_ptr (PyObject *self,
              void     *Py_UNUSED (closure))
{
  return fast_get_handle (self, NULL);
}

/* __init__ for classes whose __new__ does all the work. */
static PyObject *
fast_init_nothing (PyObject *self,
                   PyObject *args,
                   PyObject *kwargs)
{
  Py_RETURN_NONE;
}

static PyObject *
fast_get_address (PyObject *self,
                  void     *Py_UNUSED (closure))
{
  RcNativeHandle *handle = as_handle (self);
  gpointer address;

  if (handle == NULL)
    return NULL;

  address = rc_native_handle_get_handle (handle);
  if (address == NULL)
    Py_RETURN_NONE;
  return PyLong_FromVoidPtr (address);
}

static PyObject *
fast_get_reference_count (PyObject *self,
                          void     *Py_UNUSED (closure))
{
  RcNativeHandle *handle = as_handle (self);

  if (handle == NULL)
    return NULL;

  return PyLong_FromLong (rc_reference_counter_get_reference_count (RC_REFERENCE_COUNTER (handle)));
}

static PyObject *
fast_get_disposed (PyObject *self,
                   void     *Py_UNUSED (closure))
{
  RcNativeHandle *handle = as_handle (self);

  if (handle == NULL)
    return NULL;

  return PyBool_FromLong (rc_native_handle_is_disposed (handle));
}

static PyObject *
fast_add_ref (PyObject *self,
              PyObject *Py_UNUSED (unused))
{
  RcNativeHandle *handle = as_handle (self);

  if (handle == NULL)
    return NULL;

  rc_reference_counter_add_ref (RC_REFERENCE_COUNTER (handle));
  Py_RETURN_NONE;
}

static PyObject *
fast_decrement_ref (PyObject *self,
                    PyObject *Py_UNUSED (unused))
{
  RcNativeHandle *handle = as_handle (self);

  if (handle == NULL)
    return NULL;

  rc_reference_counter_decrement_ref (RC_REFERENCE_COUNTER (handle));
  Py_RETURN_NONE;
}

/* Only installed on classes whose release runs no Python code: nothing
 * can raise, so there is nothing to hand back to the caller. */
static PyObject *
fast_release (PyObject *self,
              PyObject *Py_UNUSED (unused))
{
  RcNativeHandle *handle = as_handle (self);

  if (handle == NULL)
    return NULL;

  rc_native_handle_release (handle);
  if (rc_native_handle_is_disposed (handle) && forget_kept (self) < 0)
    return NULL;
  Py_RETURN_NONE;
}

static PyMethodDef handle_methods[] = {
  { "get_handle", fast_get_handle, METH_NOARGS,
    "The object given as handle (None once released or never set)." },
  { "add_ref", fast_add_ref, METH_NOARGS, "Adds a reference." },
  { "decrement_ref", fast_decrement_ref, METH_NOARGS,
    "Removes a reference and does nothing else." },
  { "release", fast_release, METH_NOARGS,
    "Gives back one reference; at zero the native resource is released." },
  { "dispose", fast_release, METH_NOARGS, "A synonym of release()." },
  { "__init__", (PyCFunction) (void (*) (void)) fast_init_nothing, METH_VARARGS | METH_KEYWORDS,
    "Nothing: __new__ built the object." },
  { NULL, NULL, 0, NULL },
};

static PyGetSetDef handle_getsets[] = {
  { "reference_count", fast_get_reference_count, NULL, "The current number of references.", NULL },
  { "disposed", fast_get_disposed, NULL, "Whether the handle has no usable pointer.", NULL },
  { "is_invalid", fast_get_disposed, NULL, "The same as disposed.", NULL },
  { "address", fast_get_address, NULL, "The native address as an int, or None.", NULL },
  { "ptr", fast_get_ptr, NULL, "The object given as handle, as get_handle().", NULL },
  { NULL, NULL, NULL, NULL, NULL },
};

static int
install_descriptor (PyTypeObject *type,
                    const char   *name,
                    PyObject     *descriptor)
{
  int result;

  if (descriptor == NULL)
    return -1;
  result = PyObject_SetAttrString ((PyObject *) type, name, descriptor);
  Py_DECREF (descriptor);
  return result;
}

/* install(cls, names): puts C method and property descriptors named in
 * `names` on cls. Method descriptors are called without building a bound
 * method, and getset descriptors without a Python frame. */
static PyObject *
fast_install (PyObject *module,
              PyObject *args)
{
  PyTypeObject *type;
  PyObject *names;
  PyMethodDef *method;
  PyGetSetDef *getset;

  if (!PyArg_ParseTuple (args, "O!O!:install", &PyType_Type, &type, &PyFrozenSet_Type, &names))
    return NULL;

  if (!PyType_IsSubtype (type, &PyGObject_Type))
    {
      PyErr_SetString (PyExc_TypeError, "install() takes a GObject class");
      return NULL;
    }

  for (method = handle_methods; method->ml_name != NULL; method++)
    {
      PyObject *name = PyUnicode_FromString (method->ml_name);
      int wanted = PySet_Contains (names, name);

      Py_DECREF (name);
      if (wanted < 0)
        return NULL;
      if (wanted && install_descriptor (type, method->ml_name, PyDescr_NewMethod (type, method)) < 0)
        return NULL;
    }

  for (getset = handle_getsets; getset->name != NULL; getset++)
    {
      PyObject *name = PyUnicode_FromString (getset->name);
      int wanted = PySet_Contains (names, name);

      Py_DECREF (name);
      if (wanted < 0)
        return NULL;
      if (wanted && install_descriptor (type, getset->name, PyDescr_NewGetSet (type, getset)) < 0)
        return NULL;
    }

  Py_RETURN_NONE;
}

/* new_native(cls, kept, address, release_address, type_id): a handle of
 * class cls (whose GType is RcDeletableNativeHandle, registered or given
 * with an explicit __gtype__) over `address`, released by the native
 * function at `release_address`; `kept` (if not None) is kept alive with it.
 * The whole construction stays in C: no GI marshalling, no property
 * lookup by name. */
static PyObject *
fast_new_native (PyObject *module,
                 PyObject *args)
{
  PyTypeObject *type;
  PyObject *kept;
  PyObject *address_obj;
  PyObject *release_obj;
  const char *type_id;
  gpointer address;
  gpointer release_address;
  RcDeletableNativeHandle *handle;
  PyObject *self;

  if (!PyArg_ParseTuple (args, "O!OOOz:new_native", &PyType_Type, &type, &kept,
                         &address_obj, &release_obj, &type_id))
    return NULL;

  if (!PyType_IsSubtype (type, &PyGObject_Type))
    {
      PyErr_SetString (PyExc_TypeError, "new_native() takes a GObject class");
      return NULL;
    }

  address = PyLong_AsVoidPtr (address_obj);
  if (address == NULL && PyErr_Occurred ())
    return NULL;
  release_address = PyLong_AsVoidPtr (release_obj);
  if (release_address == NULL)
    {
      if (!PyErr_Occurred ())
        PyErr_SetString (PyExc_ValueError, "the release function address is NULL");
      return NULL;
    }

  self = type->tp_alloc (type, 0);
  if (self == NULL)
    return NULL;

  handle = rc_deletable_native_handle_new_native (address, release_address, type_id);
  /* The wrapper owns the reference the constructor gave. */
  ((PyGObject *) self)->obj = G_OBJECT (handle);
  pygobject_register_wrapper (self);

  if (kept == Py_None)
    return self;

  if (PyLong_CheckExact (kept) || (cdata_type != NULL && Py_TYPE (kept) == cdata_type))
    {
      /* An int, or a cffi pointer that owns no memory: it is kept for
       * identity only (get_handle() is the object given), so a plain
       * instance dict will do. Setting an attribute would switch the wrapper to a toggle
       * reference, the cost of keeping a buffer alive as long as the
       * GObject, which only owning objects need. */
      PyObject *dict = PyDict_New ();

      if (dict == NULL || PyDict_SetItem (dict, key_rc_handle, kept) < 0)
        {
          Py_XDECREF (dict);
          Py_DECREF (self);
          return NULL;
        }
      ((PyGObject *) self)->inst_dict = dict;
    }
  else if (PyObject_SetAttr (self, key_rc_handle, kept) < 0)
    {
      Py_DECREF (self);
      return NULL;
    }

  return self;
}

/* configure(cdata_type, probe, expected): enables reading cffi pointers
 * directly when probe (a cffi pointer to `expected`) reads right. */
static PyObject *
fast_configure (PyObject *module,
                PyObject *args)
{
  PyTypeObject *type;
  PyObject *probe;
  PyObject *expected_obj;
  void *expected;

  if (!PyArg_ParseTuple (args, "O!OO:configure", &PyType_Type, &type, &probe, &expected_obj))
    return NULL;
  expected = PyLong_AsVoidPtr (expected_obj);
  if (expected == NULL && PyErr_Occurred ())
    return NULL;

  cdata_type = NULL;
  if (Py_TYPE (probe) == type && (void *) ((CffiDataLayout *) probe)->c_data == expected)
    {
      Py_INCREF (type);
      cdata_type = type;
    }
  return PyBool_FromLong (cdata_type != NULL);
}

/* remember_pointer_ctype(ctype): a cffi type whose values are addresses. */
static PyObject *
fast_remember_pointer_ctype (PyObject *module,
                             PyObject *ctype)
{
  int i;

  for (i = 0; i < n_pointer_ctypes; i++)
    if (pointer_ctypes[i] == ctype)
      Py_RETURN_NONE;
  if (n_pointer_ctypes < N_POINTER_CTYPES)
    pointer_ctypes[n_pointer_ctypes++] = Py_NewRef (ctype);
  Py_RETURN_NONE;
}

/* address_of(obj): the address of None, an int, or a cffi pointer of a
 * type seen before; None when it cannot tell (the Python code decides). */
static PyObject *
fast_address_of (PyObject *module,
                 PyObject *obj)
{
  if (obj == Py_None)
    return PyLong_FromLong (0);

  if (PyLong_CheckExact (obj))
    {
      void *address = PyLong_AsVoidPtr (obj);

      if (address == NULL && PyErr_Occurred ())
        {
          /* Out of range or negative: the Python code words the error. */
          PyErr_Clear ();
          Py_RETURN_NONE;
        }
      return Py_NewRef (obj);
    }

  if (cdata_type != NULL && PyObject_TypeCheck (obj, cdata_type))
    {
      PyObject *ctype = ((CffiDataLayout *) obj)->c_type;
      int i;

      for (i = 0; i < n_pointer_ctypes; i++)
        if (pointer_ctypes[i] == ctype)
          return PyLong_FromVoidPtr (((CffiDataLayout *) obj)->c_data);
    }

  Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
  { "configure", fast_configure, METH_VARARGS,
    "configure(cdata_type, probe, expected): enable direct reads of cffi pointers." },
  { "remember_pointer_ctype", fast_remember_pointer_ctype, METH_O,
    "remember_pointer_ctype(ctype): a cffi type whose values are addresses." },
  { "address_of", fast_address_of, METH_O,
    "address_of(obj): the address of None, an int or a known cffi pointer, else None." },
  { "install", fast_install, METH_VARARGS,
    "install(cls, names): put the C implementations named in `names` on cls." },
  { "new_native", fast_new_native, METH_VARARGS,
    "new_native(cls, kept, address, release_address, type_id): a handle released natively." },
  { NULL, NULL, 0, NULL },
};

static struct PyModuleDef module_def = {
  PyModuleDef_HEAD_INIT,
  "_refcount_fast",
  "Direct calls into librefcount for the hot paths of the Refcount overrides.",
  -1,
  module_methods,
  NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__refcount_fast (void);

PyMODINIT_FUNC
PyInit__refcount_fast (void)
{
  PyObject *module;

  if (pygobject_init (3, 42, 0) == NULL)
    return NULL;

  key_rc_handle = PyUnicode_InternFromString ("_rc_handle");
  if (key_rc_handle == NULL)
    return NULL;

  module = PyModule_Create (&module_def);
  if (module == NULL)
    return NULL;

  if (PyModule_AddStringConstant (module, "built_against", RC_VERSION_S) < 0)
    {
      Py_DECREF (module);
      return NULL;
    }

  return module;
}
