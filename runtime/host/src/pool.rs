//! The worker threads that run guests past their first slice.
//!
//! Their own threads rather than tokio's blocking pool, for two reasons:
//! on Linux they run at a lower CPU priority ([`NICE`]) than the threads
//! that receive events, so guests that burn their whole budget cannot slow
//! the gateway's answers; and they are detached, so a guest still running
//! at shutdown does not keep the process alive past its grace.
//!
//! The dispatcher hands over a job only once it holds one of the pool's
//! permits, so a job never waits for a thread.

use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};

/// How much lower the workers' CPU priority is (a nice value; Linux only).
pub const NICE: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of worker threads.
pub(crate) struct WorkerPool {
    jobs: Mutex<Sender<Job>>,
}

impl WorkerPool {
    /// Starts `size` threads.
    pub(crate) fn new(size: usize) -> Self {
        let (sender, receiver) = std::sync::mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for index in 0..size {
            let receiver = receiver.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("fenn-worker-{index}"))
                .spawn(move || work(&receiver));
            if let Err(error) = spawned {
                tracing::error!(%error, "cannot start a worker thread");
            }
        }
        Self {
            jobs: Mutex::new(sender),
        }
    }

    /// Runs `job` on a worker thread.
    pub(crate) fn run(&self, job: impl FnOnce() + Send + 'static) {
        if let Ok(jobs) = self.jobs.lock() {
            // The workers only stop when the pool's sender is gone.
            let _ = jobs.send(Box::new(job));
        }
    }
}

fn work(receiver: &Mutex<Receiver<Job>>) {
    lower_priority();
    loop {
        let job = match receiver.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        match job {
            // A job that panics ends only itself: the guest's caller sees
            // its result channel closed.
            Ok(job) => {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
            Err(_) => return,
        }
    }
}

/// Lowers this thread's CPU priority by [`NICE`].
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn lower_priority() {
    // SAFETY: plain system calls on this thread's own id, with no pointers;
    // on Linux a nice value belongs to a thread, not the whole process. The
    // raw system call, as glibc has a gettid wrapper only from 2.30 on (the
    // packages are built for glibc 2.17).
    let result = unsafe {
        let tid = libc::syscall(libc::SYS_gettid);
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, NICE)
    };
    if result != 0 {
        tracing::debug!("cannot lower a worker's CPU priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_run_on_workers_and_a_panicking_job_leaves_the_worker_serving() {
        let pool = WorkerPool::new(1);
        let (done, results) = std::sync::mpsc::channel();
        pool.run(|| panic!("a job that panics"));
        for i in 0..3 {
            let done = done.clone();
            pool.run(move || {
                let name = std::thread::current().name().map(String::from);
                let _ = done.send((i, name));
            });
        }
        for i in 0..3 {
            let (got, name) = results.recv().unwrap();
            assert_eq!(got, i);
            assert_eq!(name.as_deref(), Some("fenn-worker-0"));
        }
    }
}
