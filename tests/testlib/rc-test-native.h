/*
 * rc-test-native.h - a small "third-party" C library used as test fixture.
 *
 * It stands in for a native API that hands out opaque pointers (a dog, the
 * owner of a dog, a crocodile) with their own native reference counting.
 * The refcount tests wrap these pointers in reference-counted handles and use
 * the global counters below as ground truth: every native object must be
 * freed exactly once, and never while something still uses it.
 *
 * Properties the tests rely on:
 *  - Pure C11 + pthreads, no GLib, so it cannot share state with the code
 *    under test.
 *  - Every entry point first looks the pointer up in a registry of live
 *    objects.  A pointer that is not a live object of this library (NULL,
 *    already freed, foreign) is never dereferenced; the call is counted in
 *    rc_tn_misuse_count() and returns a neutral value instead of crashing.
 *  - Memory is really released with free(), so leak checkers (valgrind,
 *    LeakSanitizer) report any object the host forgot to release.
 *  - Everything is thread-safe; counters are exact under concurrency.
 *
 * Limitation: because freed memory really is freed, malloc() may hand the
 * same address to a newer object.  A stale pointer to the old object then
 * looks like the new (live) one, so a use-after-free through a stale pointer
 * is only detected until the address is reused.  Tests that check misuse
 * should do so right after the object is freed, before creating new objects.
 * (The owner -> dog link is immune: it also remembers the dog's serial.)
 *
 * All objects are plain `void *` for callers; the functions take the object
 * kind they expect and report misuse for a live object of the wrong kind.
 */

#ifndef RC_TEST_NATIVE_H
#define RC_TEST_NATIVE_H

/* The library is built with hidden visibility; only these are exported. */
#ifndef RC_TN_API
# if defined(__GNUC__) || defined(__clang__)
#  define RC_TN_API __attribute__((visibility("default")))
# else
#  define RC_TN_API
# endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Object kinds, as passed to RcTnFreedCallback. */
#define RC_TN_KIND_DOG 1
#define RC_TN_KIND_OWNER 2
#define RC_TN_KIND_CROC 3

/* ------------------------------------------------------------------------
 * Creation.  Each new object starts with a native reference count of 1.
 * They return NULL only if memory runs out.
 * ------------------------------------------------------------------------ */

/* Creates a dog.  The name is copied; a NULL name becomes "unnamed". */
RC_TN_API void *rc_tn_dog_new (const char *name);

/* Creates an owner of `dog`.  The owner takes its own native reference to
 * the dog (rc_tn_add_ref) and releases it when the owner is freed.  `dog`
 * may be NULL (an owner without a dog).  A non-NULL `dog` that is not a live
 * dog counts as misuse; the owner is then created without a dog. */
RC_TN_API void *rc_tn_owner_new (void *dog);

/* Creates an owner that borrows `dog` without taking a native reference
 * to it: the caller promises that the dog outlives the owner.  The owner
 * remembers the dog (and its serial) and, when it is freed, touches its dog
 * once more: if the dog is no longer alive by then, that counts as misuse
 * (the owner outlived what it borrowed), so a host that releases the dog
 * before its owner shows up in rc_tn_misuse_count().  Walking it and
 * rc_tn_owner_get_dog() behave as for an owner of that dog.  A `dog` that
 * is not a live dog counts as misuse; the owner is then created without a
 * dog (and checks nothing when freed). */
RC_TN_API void *rc_tn_owner_new_borrowing (void *dog);

/* Creates a crocodile. */
RC_TN_API void *rc_tn_croc_new (void);

/* ------------------------------------------------------------------------
 * Native reference counting, for any object kind.
 * ------------------------------------------------------------------------ */

/* Adds one reference.  Misuse if `obj` is not live (or the count would
 * overflow INT_MAX); nothing happens then. */
RC_TN_API void rc_tn_add_ref (void *obj);

/* Drops one reference.  At 0 the object is freed: the freed callback runs,
 * the memory is free()d, and a freed owner then releases its dog (which may
 * free the dog too).  Misuse if `obj` is not live (e.g. double release).
 * The signature is exactly `void f (void *)` so that its address can be
 * used as a release/destroy function. */
RC_TN_API void rc_tn_release (void *obj);

/* Current native reference count, or -1 if `obj` is not a live object of
 * this library.  A query: it never counts as misuse. */
RC_TN_API int rc_tn_get_ref_count (void *obj);

/* 1 if `obj` is a live object of this library, else 0.  Never dereferences
 * `obj`.  A query: it never counts as misuse. */
RC_TN_API int rc_tn_is_alive (void *obj);

/* ------------------------------------------------------------------------
 * Object behaviour.
 * ------------------------------------------------------------------------ */

/* The dog's name, valid until the dog is freed; NULL (+ misuse) if `dog` is
 * not a live dog. */
RC_TN_API const char *rc_tn_dog_get_name (void *dog);

/* The owner's dog, borrowed (no reference is added).  NULL if the owner has
 * no dog or its dog was already freed behind its back (over-release);
 * NULL + misuse if `owner` is not a live owner. */
RC_TN_API void *rc_tn_owner_get_dog (void *owner);

/* Takes the dog for a walk and returns the number of walks done so far by
 * this owner, including this one (the first walk returns 1).
 * Returns -1 if the owner has no live dog:
 *  - owner created without a dog: -1, not misuse (a legitimate state);
 *  - its dog was freed behind its back: -1 + misuse (walking uses the dog);
 *  - `owner` is not a live owner: -1 + misuse. */
RC_TN_API int rc_tn_owner_walk (void *owner);

/* The croc eats the dog (the dog is only counted, not freed).  Returns 1 and
 * counts a meal if `croc` is a live croc and `dog` a live dog, else 0 and
 * one misuse. */
RC_TN_API int rc_tn_croc_eat (void *croc, void *dog);

/* ------------------------------------------------------------------------
 * Global ground truth.  Lock-free atomic reads; exact under threads.
 * ------------------------------------------------------------------------ */

RC_TN_API int rc_tn_live_count (void);        /* all live objects */
RC_TN_API int rc_tn_dog_live_count (void);
RC_TN_API int rc_tn_owner_live_count (void);
RC_TN_API int rc_tn_croc_live_count (void);
RC_TN_API long rc_tn_created_count (void);    /* objects ever created */
RC_TN_API long rc_tn_freed_count (void);      /* objects ever freed */

/* Calls made with a pointer that is not a live object of the expected kind:
 * double release, use after free, NULL, foreign pointer, wrong kind. */
RC_TN_API long rc_tn_misuse_count (void);
RC_TN_API void rc_tn_reset_misuse_count (void);

/* ------------------------------------------------------------------------
 * Callback into the host.
 * ------------------------------------------------------------------------ */

/* Called each time an object is freed, after it has left the registry (so
 * rc_tn_is_alive (obj) is already 0 and the counters already account for
 * it) but before its memory is free()d, so that the address cannot have been
 * reused yet.  `obj` must not be dereferenced or passed back as an object;
 * it is only an identifier.  `kind` is one of RC_TN_KIND_*.
 * The callback runs outside the library's lock, in the thread that dropped
 * the last reference, and may call back into the library (e.g. release
 * another object).  For an owner, it runs before the owner's dog is
 * released, so the dog's callback (if the dog dies too) comes after. */
typedef void (*RcTnFreedCallback) (void *obj, int kind, void *user_data);

/* Installs the freed callback (NULL to clear).  A callback/user_data pair
 * is read atomically when an object dies, so a call that already started in
 * another thread may still run with the previous pair after this returns. */
RC_TN_API void rc_tn_set_freed_callback (RcTnFreedCallback callback,
                                         void *user_data);

#ifdef __cplusplus
}
#endif

#endif /* RC_TEST_NATIVE_H */
