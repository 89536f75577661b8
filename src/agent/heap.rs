//! How the long-running agent uses glibc's allocator, so that its idle resident memory is
//! what it holds, not what it once held.
//!
//! glibc serves a large request (a status response for 10,000 jobs, a reload's buffers) from
//! its own `mmap` and gives it back when freed, but each such free also *raises* the size from
//! which it does so (the dynamic mmap threshold, up to 32 MiB). After the first `GET
//! /api/v1/status` of a big agent, the next large buffers come from the heap instead, and the
//! heap does not shrink past what is still in use above them: measured with 10,000 jobs, one
//! status request left ≈ 6 MB more resident for the agent's life (bench/README.md, "Agent").
//! Fixing the threshold at glibc's default starting value keeps large buffers in `mmap`.
//! Short-lived commands (`validate`, `plan`) keep glibc's defaults: they exit before it matters.

/// glibc's initial `M_MMAP_THRESHOLD` (128 KiB), kept from moving.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 128 * 1024;

/// Tunes the allocator for a daemon; call once, before the runtime starts its threads.
pub fn tune_for_daemon() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets glibc's allocator parameters; it takes no pointers, and
        // setting M_MMAP_THRESHOLD is documented to turn off the dynamic adjustment.
        let ok = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) };
        if ok != 1 {
            tracing::debug!("mallopt(M_MMAP_THRESHOLD) was refused; glibc's defaults apply");
        }
    }
}

/// Returns freed heap memory to the system: glibc keeps what a reload freed in its arenas (one
/// per thread that allocated, and the loader runs on several), which idle RSS would otherwise
/// carry until the next reload reuses it.
pub(super) fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks and shrinks glibc's own arenas; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}
