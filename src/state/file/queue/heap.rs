//! Giving the memory a large read freed back to the system.

/// Entries read at once from which [`release_freed`] is worth its cost (a walk of the heap).
pub(crate) const RELEASE_FROM_ENTRIES: usize = 10_000;

/// After reading a large queue (or importing one) the allocator keeps the pages of the read
/// buffers and parsed records it freed, so the process would keep the peak of the read as
/// resident memory; hand those pages back (glibc's `malloc_trim`; elsewhere nothing).
pub(crate) fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the kernel; it touches no live
    // allocation and is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}
