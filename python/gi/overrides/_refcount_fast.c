/* _refcount_fast.c: the hot calls of the Refcount overrides, in C
 *
 * SPDX-License-Identifier: MIT
 *
 * PyGObject's generic call path costs a few hundred nanoseconds per call
 * and a microsecond or two per object; a reference-counting layer is paid on
 * every native object a program touches. This module gives the
 * overrides of the GI classes (Refcount.NativeHandle and its family) direct
 * calls into librefcount for the operations that run all the time:
 *
 * - reading the handle and the count, add_ref/release (C descriptors put on
 *   the classes by install());
 * - building Refcount.DeletableNativeHandle for a native release function
 *   (the release then never enters Python);
 * - Refcount.NativeHandle.__init__, which its Python subclasses inherit;
 * - the __del__ that releases a handle while its wrapper is intact.
 *
 * (The refcount package's handles are not PyGObject objects: see
 * refcount/_core.c.) Each C entry point takes the common case and hands
 * anything else to the Python code of Refcount.py (prior references,
 * arguments that do not parse, errors for it to word...). Addresses are
 * read as in the refcount package, by rc-py-address.h. It is built and
 * installed with the overrides, which need it.
 *
 * Of PyGObject it uses what pygobject.h offers to C modules: the wrapper's
 * obj and inst_dict, pygobject_register_wrapper(), pygobject_get(), the
 * GObject type's own tp_init; not its private_flags (nor anything else
 * PyGObject keeps to itself).
 */

#define G_LOG_DOMAIN "Refcount"

#include <Python.h>

#include <pygobject.h>
#include <refcount/refcount.h>

#include "rc-py-address.h"

/* The instance-dict key where the overrides keep the object given as
 * handle (a cffi pointer, a ctypes pointer...), alive while it is needed. */
static PyObject *key_rc_handle;

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

/* The thread-local object whose `errors` list collects the exceptions of
 * Python release code while a release() runs (see configure_stash()). */
static PyObject *pending_local;
static PyObject *key_errors;

/* configure_stash(pending): the thread-local object whose `errors` list
 * the overrides' _stash_exception() appends the exceptions of Python
 * release code to while a release() runs. */
static PyObject *
fast_configure_stash (PyObject *module,
                      PyObject *pending)
{
  Py_XSETREF (pending_local, Py_NewRef (pending));
  Py_RETURN_NONE;
}

/* release() of the classes whose release runs Python code: as fast_release,
 * and then raises again the first exception that this code raised, as the
 * overrides' _call_reraising() does. */
static PyObject *
fast_python_release (PyObject *self,
                     PyObject *Py_UNUSED (unused))
{
  RcNativeHandle *handle = as_handle (self);
  PyObject *outer;
  PyObject *errors;
  int restored;

  if (handle == NULL)
    return NULL;
  if (pending_local == NULL)
    {
      PyErr_SetString (PyExc_RuntimeError, "configure_stash() was not called");
      return NULL;
    }

  outer = PyObject_GetAttr (pending_local, key_errors);
  if (outer == NULL)
    {
      if (!PyErr_ExceptionMatches (PyExc_AttributeError))
        return NULL;
      PyErr_Clear ();
      outer = Py_NewRef (Py_None);
    }
  errors = PyList_New (0);
  if (errors == NULL || PyObject_SetAttr (pending_local, key_errors, errors) < 0)
    {
      Py_XDECREF (errors);
      Py_DECREF (outer);
      return NULL;
    }

  rc_native_handle_release (handle);

  restored = PyObject_SetAttr (pending_local, key_errors, outer);
  Py_DECREF (outer);
  if (restored < 0)
    {
      Py_DECREF (errors);
      return NULL;
    }
  if (PyList_GET_SIZE (errors) > 0)
    {
      PyObject *error = PyList_GET_ITEM (errors, 0);

      PyErr_SetObject ((PyObject *) Py_TYPE (error), error);
      Py_DECREF (errors);
      return NULL;
    }
  Py_DECREF (errors);
  if (rc_native_handle_is_disposed (handle) && forget_kept (self) < 0)
    return NULL;
  Py_RETURN_NONE;
}

static PyMethodDef python_release_def = {
  "release", fast_python_release, METH_NOARGS,
  "Gives back one reference; at zero the native resource is released. "
  "Exceptions of Python release code are raised again here.",
};

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

/* Keeps `kept` (the object given as handle) with the wrapper, as the
 * overrides do, so that get_handle() returns it. An int, or a cffi pointer
 * that owns no memory, is kept for identity only: when the wrapper has no
 * instance dict yet, and `plain` says that nothing else is expected in it
 * (the class is one of ours, not a subclass that sets attributes), a plain
 * dict will do (should the wrapper die while C code still holds the
 * GObject, the C __del__ switches it to a toggle reference then). Otherwise
 * the attribute is set as Python code would, which switches the wrapper to
 * a toggle reference now: the wrapper, its attributes and an owning buffer
 * then live as long as the GObject, even when C code holds it after Python
 * dropped it. */
static int
keep_handle (PyObject *self,
             PyObject *kept,
             gboolean  plain)
{
  PyGObject *gself = (PyGObject *) self;

  if (kept == Py_None)
    return 0;

  if (plain && gself->inst_dict == NULL &&
      (PyLong_CheckExact (kept) || (PyObject *) Py_TYPE (kept) == cdata_type))
    {
      PyObject *dict = PyDict_New ();

      if (dict == NULL)
        return -1;
      if (PyDict_SetItem (dict, key_rc_handle, kept) < 0)
        {
          Py_DECREF (dict);
          return -1;
        }
      gself->inst_dict = dict;
      return 0;
    }

  return PyObject_SetAttr (self, key_rc_handle, kept);
}

/* A wrapper of class `type` over a new RcDeletableNativeHandle. */
static PyObject *
new_native_object (PyTypeObject *type,
                   PyObject     *kept,
                   gpointer      address,
                   gpointer      release_address,
                   const char   *type_id)
{
  PyObject *self = type->tp_alloc (type, 0);

  if (self == NULL)
    return NULL;

  /* The wrapper owns the reference the constructor gave. */
  ((PyGObject *) self)->obj = G_OBJECT (rc_deletable_native_handle_new_native (address, release_address, type_id));
  pygobject_register_wrapper (self);

  /* Only the overrides' own classes get here (DeletableNativeHandle is
   * final: Python cannot subclass it). */
  if (address != NULL && keep_handle (self, kept, TRUE) < 0)
    {
      Py_DECREF (self);
      return NULL;
    }
  return self;
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

  return new_native_object (type, kept, address, release_address, type_id);
}

/* ---- Argument parsing ------------------------------------------------ */

static PyObject *key_handle;
static PyObject *key_type_id;
static PyObject *key_prior_ref_count;

/* Takes up to n_keys arguments, positional or by the keywords `keys`,
 * into argv (left as they are when not given): 1. 0 when the arguments are
 * not simply that (given twice, unknown keywords, too many), for the Python
 * code to take them and word the error; -1 with an exception set. */
static int
parse_arguments (PyObject        *args,
                 Py_ssize_t       first,
                 PyObject        *kwargs,
                 PyObject *const *keys,
                 Py_ssize_t       n_keys,
                 PyObject        *argv[])
{
  Py_ssize_t n = PyTuple_GET_SIZE (args) - first;
  Py_ssize_t n_keywords = 0;
  Py_ssize_t i;

  if (n > n_keys)
    return 0;
  for (i = 0; i < n; i++)
    argv[i] = PyTuple_GET_ITEM (args, first + i);
  if (kwargs == NULL || PyDict_GET_SIZE (kwargs) == 0)
    return 1;

  for (i = 0; i < n_keys; i++)
    {
      PyObject *value = PyDict_GetItemWithError (kwargs, keys[i]);

      if (value == NULL)
        {
          if (PyErr_Occurred ())
            return -1;
          continue;
        }
      if (i < n)
        return 0;
      argv[i] = value;
      n_keywords++;
    }
  return n_keywords == PyDict_GET_SIZE (kwargs);
}

/* Whether obj is the int 0 (not False, not an int subclass). */
static gboolean
is_exact_zero (PyObject *obj)
{
  long value;

  if (!PyLong_CheckExact (obj))
    return FALSE;
  value = PyLong_AsLong (obj);
  if (value == -1 && PyErr_Occurred ())
    {
      PyErr_Clear ();  /* too large: not zero */
      return FALSE;
    }
  return value == 0;
}

/* A type id argument, None or a str: 1, with *type_id set (NULL for None);
 * 0 for anything else, for the Python code to word the error; -1 with an
 * exception set. */
static int
simple_type_id (PyObject    *obj,
                const char **type_id)
{
  *type_id = NULL;
  if (obj == Py_None)
    return 1;
  if (!PyUnicode_CheckExact (obj))
    return 0;
  *type_id = PyUnicode_AsUTF8 (obj);
  return *type_id != NULL ? 1 : -1;
}

/* ---- Handles released by Python code ---------------------------------- */


/* __del__ of the handle classes, when the wrapper dies:
 *
 * - if the GObject dies with it (this reference is its last) and its
 *   release is Python code (a `_release_handle`, a do_release_handle), the
 *   wrapper's own reference is given back now, while self is intact, rather
 *   than from GObject dispose, after PyGObject cleared the wrapper: the
 *   release code runs on this very object;
 * - if C code still holds the GObject and the wrapper keeps its handle
 *   object in a plain instance dict (see keep_handle()), the wrapper is
 *   switched to a toggle reference, as PyGObject does for a wrapper given an
 *   attribute: that resurrects it, with its dict, for as long as C holds the
 *   GObject, so get_handle() is still the object given when C gives the
 *   object back. (Wrappers of Python-released handles have one already.) */
static PyObject *
fast_release_on_del (PyObject *self,
                     PyObject *Py_UNUSED (unused))
{
  PyGObject *gself = (PyGObject *) self;
  GObject *object = gself->obj;
  PyObject *dict = gself->inst_dict;
  PyObject *kept;
  PyObject *fresh;

  if (object == NULL || !RC_IS_NATIVE_HANDLE (object))
    Py_RETURN_NONE;

  if (g_atomic_int_get ((int *) &object->ref_count) == 1)
    {
      /* Native releases are left to GObject dispose, which PyGObject runs
       * with the GIL released (a release function may block). */
      if (G_OBJECT_TYPE (object) == RC_TYPE_DELETABLE_NATIVE_HANDLE ||
          G_OBJECT_TYPE (object) == RC_TYPE_OWNING_NATIVE_HANDLE)
        Py_RETURN_NONE;
      rc_native_handle_drop_wrapper_reference (RC_NATIVE_HANDLE (object));
      if (PyErr_Occurred ())
        PyErr_WriteUnraisable (self);
      Py_RETURN_NONE;
    }

  /* (A wrapper that PyGObject < 3.55 switched to a toggle reference does
   * not get here: while C holds the GObject, the toggle reference holds the
   * wrapper. PyGObject >= 3.55 has no toggle references.) */
  if (dict == NULL)
    Py_RETURN_NONE;

  /* PyGObject switches to a toggle reference when an attribute creates
   * the instance dict: let it create a fresh one, then put ours back. */
  kept = PyDict_GetItemWithError (dict, key_rc_handle);
  if (kept == NULL && PyErr_Occurred ())
    return NULL;
  gself->inst_dict = NULL;
  if (PyObject_SetAttr (self, key_rc_handle, kept != NULL ? kept : Py_None) < 0)
    {
      Py_XSETREF (gself->inst_dict, dict);
      return NULL;
    }
  fresh = gself->inst_dict;
  gself->inst_dict = dict;
  Py_XDECREF (fresh);
  Py_RETURN_NONE;
}

static PyMethodDef release_on_del_def = {
  "__del__", fast_release_on_del, METH_NOARGS,
  "Releases while the wrapper is intact, or keeps it while C holds the GObject.",
};

/* ---- Refcount.DeletableNativeHandle ---------------------------------- */

static PyObject *key_release;
static PyObject *deletable_python_new;  /* the Python __new__ */

/* Whether a reader of rc-py-address.h read: an error is left to the Python
 * code, which raises it again, in its order. */
static gboolean
read_address (int result)
{
  if (result == 0)
    return TRUE;
  PyErr_Clear ();
  return FALSE;
}

/* DeletableNativeHandle.__new__(cls, handle=None, release=None,
 * type_id=None, prior_ref_count=0), for the common case: a handle released
 * by a native function (a cffi function or an address), without prior
 * references. Anything else goes to the Python __new__. */
static PyObject *
fast_deletable_new (PyObject *module,
                    PyObject *args,
                    PyObject *kwargs)
{
  PyObject *argv[4] = { Py_None, Py_None, Py_None, NULL };
  PyObject *keys[4] = { key_handle, key_release, key_type_id, key_prior_ref_count };
  PyObject *cls;
  gpointer address = NULL;
  gpointer release_address = NULL;
  const char *type_id;
  int typed;
  int parsed;

  if (deletable_python_new == NULL)
    {
      PyErr_SetString (PyExc_RuntimeError, "set_fallback() was not called");
      return NULL;
    }
  if (PyTuple_GET_SIZE (args) < 1 || !PyType_Check (cls = PyTuple_GET_ITEM (args, 0)) ||
      !PyType_IsSubtype ((PyTypeObject *) cls, &PyGObject_Type))
    return PyObject_Call (deletable_python_new, args, kwargs);

  parsed = parse_arguments (args, 1, kwargs, keys, 4, argv);
  if (parsed < 0)
    return NULL;
  /* (A release function that is not an int or a cffi object is a Python
   * callable, or a ctypes function: the Python code's.) */
  if (parsed == 0 ||
      (argv[3] != NULL && !is_exact_zero (argv[3])) ||
      (!PyLong_CheckExact (argv[1]) && !is_cdata (argv[1])) ||
      !read_address (release_address_of (argv[1], &release_address)) || release_address == NULL ||
      !read_address (address_of (argv[0], &address)))
    return PyObject_Call (deletable_python_new, args, kwargs);

  typed = simple_type_id (argv[2], &type_id);
  if (typed < 0)
    return NULL;
  if (typed == 0)
    return PyObject_Call (deletable_python_new, args, kwargs);

  return new_native_object ((PyTypeObject *) cls, argv[0], address, release_address, type_id);
}

/* ---- Refcount.NativeHandle.__init__ -------------------------------- */

static PyObject *handle_python_init;  /* the Python __init__ */
static PyObject *empty_tuple;

/* NativeHandle.__init__(self, handle=None, type_id=None,
 * prior_ref_count=0, **properties), for the common case: a wrapper without
 * its GObject yet, a type id that is None or a str, no prior references and
 * no properties. The GObject is made as GObject.Object.__init__ makes
 * it (PyGObject's own tp_init, without properties), then given its type id
 * and pointer directly: no GI marshalling, no property set by name, no
 * Python frame. Anything else goes to the Python __init__. */
static PyObject *
fast_handle_init (PyObject *self,
                  PyObject *args,
                  PyObject *kwargs)
{
  PyObject *argv[3] = { Py_None, Py_None, NULL };
  PyObject *keys[3] = { key_handle, key_type_id, key_prior_ref_count };
  RcNativeHandle *handle;
  gpointer address = NULL;
  const char *type_id = NULL;
  GError *error = NULL;
  int parsed, typed = 1;

  if (handle_python_init == NULL)
    {
      PyErr_SetString (PyExc_RuntimeError, "set_fallback() was not called");
      return NULL;
    }
  parsed = parse_arguments (args, 0, kwargs, keys, 3, argv);
  if (parsed < 0)
    return NULL;
  if (parsed == 0 || ((PyGObject *) self)->obj != NULL ||
      (argv[2] != NULL && !is_exact_zero (argv[2])) ||
      !read_address (address_of (argv[0], &address)) ||
      (typed = simple_type_id (argv[1], &type_id)) == 0)
    {
      PyObject *head = PyTuple_Pack (1, self);
      PyObject *full_args = head != NULL ? PySequence_Concat (head, args) : NULL;
      PyObject *result;

      Py_XDECREF (head);
      if (full_args == NULL)
        return NULL;
      result = PyObject_Call (handle_python_init, full_args, kwargs);
      Py_DECREF (full_args);
      return result;
    }
  if (typed < 0)
    return NULL;

  if (PyGObject_Type.tp_init (self, empty_tuple, NULL) < 0 || (handle = as_handle (self)) == NULL)
    return NULL;
  if (!rc_native_handle_construct (handle, NULL, type_id, 0))
    {
      PyErr_SetString (PyExc_RuntimeError, "the native handle could not be constructed");
      return NULL;
    }
  /* Not in one step with construct(): a pointer that the class's
   * is_valid_handle rejects is an error here, as on the GI path. */
  if (address != NULL && !rc_native_handle_set_handle (handle, address, 0, &error))
    {
      pyg_error_check (&error);
      return NULL;
    }
  /* Set as the Python __init__ sets it (see keep_handle()). */
  if (PyObject_SetAttr (self, key_rc_handle, address != NULL ? argv[0] : Py_None) < 0)
    return NULL;
  Py_RETURN_NONE;
}

static PyMethodDef handle_init_def = {
  "__init__", (PyCFunction) (void (*) (void)) fast_handle_init, METH_VARARGS | METH_KEYWORDS,
  "__init__($self, /, handle=None, type_id=None, prior_ref_count=0, **properties)\n--\n\n"
  "Holds `handle` (None, an int address, a cffi or ctypes pointer, a PyCapsule) with "
  "prior_ref_count + 1 references.",
};

/* set_fallback(name, function): the Python code that a C constructor
 * hands the arguments it does not take: "__init__" for
 * Refcount.NativeHandle's, "__new__" for Refcount.DeletableNativeHandle's. */
static PyObject *
fast_set_fallback (PyObject *module,
                   PyObject *args)
{
  const char *name;
  PyObject *function;
  PyObject **slot;

  if (!PyArg_ParseTuple (args, "sO:set_fallback", &name, &function))
    return NULL;
  if (strcmp (name, "__init__") == 0)
    slot = &handle_python_init;
  else if (strcmp (name, "__new__") == 0)
    slot = &deletable_python_new;
  else
    return PyErr_Format (PyExc_ValueError, "no C constructor is called %s", name);
  if (!PyCallable_Check (function))
    return PyErr_Format (PyExc_TypeError, "set_fallback() takes a callable");
  Py_XSETREF (*slot, Py_NewRef (function));
  Py_RETURN_NONE;
}

/* configure(cdata_type, address_info, release_address): the overrides'
 * Python readers, for what C cannot read itself (see rc-py-address.h). */
static PyObject *
fast_configure (PyObject *module,
                PyObject *args)
{
  PyObject *cdata, *info, *release;

  if (!PyArg_ParseTuple (args, "OOO:configure", &cdata, &info, &release) ||
      rc_py_address_configure (cdata, info, release) < 0)
    return NULL;
  Py_RETURN_NONE;
}

/* address_of(obj): the address of a handle object, 0 for None. */
static PyObject *
fast_address_of (PyObject *module,
                 PyObject *obj)
{
  void *address;

  if (address_of (obj, &address) < 0)
    return NULL;
  return PyLong_FromVoidPtr (address);
}

/* release_address_of(release): the address of a native release function,
 * None for a Python callable. */
static PyObject *
fast_release_address_of (PyObject *module,
                         PyObject *release)
{
  void *address;

  if (release_address_of (release, &address) < 0)
    return NULL;
  if (address == NULL)
    Py_RETURN_NONE;
  return PyLong_FromVoidPtr (address);
}

static PyMethodDef module_methods[] = {
  { "configure", fast_configure, METH_VARARGS,
    "configure(cdata_type, address_info, release_address): the Python address readers." },
  { "address_of", fast_address_of, METH_O,
    "address_of(obj): the address of a handle object, 0 for None." },
  { "release_address_of", fast_release_address_of, METH_O,
    "release_address_of(release): the address of a native release function, None for a Python callable." },
  { "install", fast_install, METH_VARARGS,
    "install(cls, names): put the C implementations named in `names` on cls." },
  { "configure_stash", fast_configure_stash, METH_O,
    "configure_stash(pending): where the exceptions of Python release code go while release() runs." },
  { "set_fallback", fast_set_fallback, METH_VARARGS,
    "set_fallback(name, function): the Python __init__ or __new__ a C one hands what it does not take." },
  { "deletable_new", (PyCFunction) (void (*) (void)) fast_deletable_new, METH_VARARGS | METH_KEYWORDS,
    "deletable_new($module, cls, /, handle=None, release=None, type_id=None, prior_ref_count=0)\n--\n\n"
    "DeletableNativeHandle.__new__, in C for handles released natively." },
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
  PyObject *release_on_del;
  PyObject *python_release;
  PyObject *handle_init;

  if (pygobject_init (3, 42, 0) == NULL)
    return NULL;

  key_rc_handle = PyUnicode_InternFromString ("_rc_handle");
  key_handle = PyUnicode_InternFromString ("handle");
  key_errors = PyUnicode_InternFromString ("errors");
  key_release = PyUnicode_InternFromString ("release");
  key_type_id = PyUnicode_InternFromString ("type_id");
  key_prior_ref_count = PyUnicode_InternFromString ("prior_ref_count");
  empty_tuple = PyTuple_New (0);
  if (empty_tuple == NULL || key_rc_handle == NULL || key_handle == NULL || key_errors == NULL ||
      key_release == NULL || key_type_id == NULL || key_prior_ref_count == NULL)
    return NULL;

  module = PyModule_Create (&module_def);
  if (module == NULL)
    return NULL;

  python_release = PyDescr_NewMethod (&PyGObject_Type, &python_release_def);
  if (python_release == NULL || PyModule_AddObject (module, "python_release", python_release) < 0)
    {
      Py_XDECREF (python_release);
      Py_DECREF (module);
      return NULL;
    }
  release_on_del = PyDescr_NewMethod (&PyGObject_Type, &release_on_del_def);
  if (release_on_del == NULL || PyModule_AddObject (module, "release_on_del", release_on_del) < 0)
    {
      Py_XDECREF (release_on_del);
      Py_DECREF (module);
      return NULL;
    }
  handle_init = PyDescr_NewMethod (&PyGObject_Type, &handle_init_def);
  if (handle_init == NULL || PyModule_AddObject (module, "handle_init", handle_init) < 0)
    {
      Py_XDECREF (handle_init);
      Py_DECREF (module);
      return NULL;
    }

  if (PyModule_AddStringConstant (module, "built_against", RC_VERSION_S) < 0)
    {
      Py_DECREF (module);
      return NULL;
    }

  return module;
}
