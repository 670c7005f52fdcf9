/* bench-release-module.c: a release function in a library loaded with
 * dlopen(), as cffi's ffi.dlopen() and ctypes load the libraries of Python
 * programs; bench-c times the handles that must keep it loaded.
 *
 * SPDX-License-Identifier: MIT
 */

void bench_module_release (void *handle);

__attribute__((visibility ("default"))) void
bench_module_release (void *handle)
{
  (void) handle;
}
