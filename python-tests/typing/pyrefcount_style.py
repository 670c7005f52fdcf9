"""Code written for pyrefcount (its README's design, with annotations as a
careful pyrefcount user writes them): it must type-check against the
refcount package as it does against pyrefcount. Only checked, never run."""

from typing import Any, Optional

import cffi

from refcount.base import NativeHandle, ReferenceCounter
from refcount.interop import (
    CffiData,
    CffiNativeHandle,
    CffiWrapperFactory,
    DeletableCffiNativeHandle,
    OwningCffiNativeHandle,
    cffi_arg_error_external_obj_type,
    is_cffi_native_handle,
    unwrap_cffi_native_handle,
    wrap_as_pointer_handle,
)

ut_ffi = cffi.FFI()
ut_ffi.cdef("extern void* create_dog();")
ut_ffi.cdef("extern void* create_owner( void* d);")
ut_ffi.cdef("extern void say_walk( void* owner);")
ut_ffi.cdef("extern void release( void* obj);")
ut_dll: Any = ut_ffi.dlopen(None)


class CustomCffiNativeHandle(CffiNativeHandle):
    def __init__(self, pointer: CffiData, prior_ref_count: int = 0):
        super(CustomCffiNativeHandle, self).__init__(pointer, type_id="", prior_ref_count=prior_ref_count)

    def _release_handle(self) -> bool:
        ut_dll.release(self.get_handle())
        return True


class Dog(CustomCffiNativeHandle):
    def __init__(self, pointer: Optional[CffiData] = None):
        if pointer is None:
            pointer = ut_dll.create_dog()
        super(Dog, self).__init__(pointer)


class DogOwner(CustomCffiNativeHandle):
    def __init__(self, dog: Dog):
        super(DogOwner, self).__init__(None)
        self._set_handle(ut_dll.create_owner(dog.get_handle()))
        self.dog = dog
        self.dog.add_ref()

    def say_walk(self) -> None:
        ut_dll.say_walk(self.get_handle())

    def _release_handle(self) -> bool:
        super(DogOwner, self)._release_handle()
        self.dog.release()
        return True


def walk() -> int:
    dog = Dog()
    owner = DogOwner(dog)
    owner.say_walk()
    count: int = dog.reference_count
    disposed: bool = owner.disposed or owner.is_invalid
    type_id: Optional[str] = dog.type_id
    owner.dispose()
    counter = ReferenceCounter(prior_ref_count=1)
    counter.add_ref()
    counter.decrement_ref()
    buffer = OwningCffiNativeHandle(ut_ffi.new("double[4]"), type_id="BUF", prior_ref_count=0)
    deletable = DeletableCffiNativeHandle(ut_dll.create_dog(), ut_dll.release, "DOG", 0)
    assert is_cffi_native_handle(deletable, "DOG") and not disposed and type_id is None
    unwrap_cffi_native_handle(buffer, stringent=True)
    wrap_as_pointer_handle(buffer).ptr
    message: str = cffi_arg_error_external_obj_type(buffer, "DOG")
    factory = CffiWrapperFactory({"DOG": Dog}, strict_wrapping=False)
    factory.create_wrapper(ut_dll.create_dog(), "DOG", ut_dll.release)
    handle: NativeHandle = dog
    return count + counter.reference_count + len(message) + handle.reference_count
