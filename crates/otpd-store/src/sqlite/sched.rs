//! Scheduling class of the store's own threads.
//!
//! When the writer shares a core with the request threads (a one-core container, or the
//! benchmark's pinned server), the kernel's default is to run a woken thread at once: each
//! request that queues a write wakes the writer, which preempts the request thread and commits
//! a batch of two or three. `SCHED_BATCH` takes away only that wakeup preemption: the writer
//! still gets its fair share of the CPU, but it runs when the request threads have handled
//! what is ready, so one commit (and one fsync) covers every write queued meanwhile. With a
//! core to itself nothing changes. Measured (BENCHMARKS.md, `bench/run.sh`): writes per
//! commit in the check benchmark 3.5 -> 45, checks on one core 4 397 -> 5 336 /s.

/// Marks the calling thread as a batch thread; logs and carries on where that is refused.
pub(crate) fn defer_to_request_threads() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: sched_setscheduler reads `param` during the call only; pid 0 is this thread.
        let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
        if rc != 0 {
            tracing::debug!(
                error = %std::io::Error::last_os_error(),
                "could not make a store thread SCHED_BATCH"
            );
        }
    }
}
