"""Misuse a type checker must catch, through the package's annotations (a
stub-less package would let every line pass)."""

from refcount.base import ReferenceCounter
from refcount.interop import CffiNativeHandle, DeletableCffiNativeHandle

counter = ReferenceCounter(prior_ref_count="1")
handle = CffiNativeHandle(None, type_id=3)
count: str = handle.reference_count
DeletableCffiNativeHandle(None)
handle.add_ref(1)
