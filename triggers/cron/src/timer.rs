//! [`FineTimer`]: a thread that wakes a task at a deadline to within tens
//! of microseconds, for the last few milliseconds before a fire.
//!
//! tokio's timer counts whole milliseconds: it rounds a deadline up to the
//! next tick and parks its driver for whole milliseconds too, so a
//! `tokio::time::sleep` ends 0-2 ms after its deadline. This thread waits
//! with the OS's own timers instead (a futex wait to the nanosecond, late
//! by the kernel's timer slack, 50 µs by default). It sleeps while it
//! waits: no spinning, one wake-up per fire. [`crate::wait`] hands it only
//! the last [`crate::wait::MARGIN`] of a wait.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Instant;
use tokio::sync::oneshot;

/// One wait: when it ends, and the task to tell.
struct Waiter {
    deadline: Instant,
    done: oneshot::Sender<()>,
}

/// The handle of a trigger's timer thread; the thread ends with the last
/// handle.
#[derive(Debug, Clone)]
pub(crate) struct FineTimer {
    /// `None` when the thread could not be started: waits fall back to
    /// tokio's timer.
    waits: Option<Sender<Waiter>>,
}

impl FineTimer {
    /// Starts the timer thread.
    pub(crate) fn start() -> Self {
        let (waits, received) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("fenn-cron-timer".into())
            .spawn(move || serve(&received));
        match spawned {
            Ok(_) => Self { waits: Some(waits) },
            Err(error) => {
                tracing::warn!(%error, "cannot start cron's timer thread: fires will start up to 2 ms late");
                Self { waits: None }
            }
        }
    }

    /// Waits until `deadline`: on the timer thread, or on tokio's timer
    /// if the thread is gone.
    pub(crate) async fn sleep_until(&self, deadline: Instant) {
        let (done, woken) = oneshot::channel();
        let waiter = Waiter { deadline, done };
        let sent = self
            .waits
            .as_ref()
            .is_some_and(|waits| waits.send(waiter).is_ok());
        if sent && woken.await.is_ok() {
            return;
        }
        tokio::time::sleep_until(deadline.into()).await;
    }
}

/// The thread: takes waits, and ends each at its deadline, until every
/// handle is gone.
fn serve(waits: &Receiver<Waiter>) {
    let mut waiting = Deadlines::default();
    loop {
        let received = match waiting.next() {
            Some(next) => waits.recv_timeout(next.saturating_duration_since(Instant::now())),
            None => waits.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match received {
            Ok(waiter) => waiting.push(waiter.deadline, waiter.done),
            Err(RecvTimeoutError::Timeout) => {}
            // A wait holds a handle: none is left.
            Err(RecvTimeoutError::Disconnected) => return,
        }
        for done in waiting.take_due(Instant::now()) {
            // A wait given up (its schedule stopped) has no one to tell.
            let _ = done.send(());
        }
    }
}

/// The waits a timer holds, in deadline order (a few: each schedule has
/// one at most, in its last milliseconds before a fire).
#[derive(Debug)]
struct Deadlines<T> {
    waiting: Vec<(Instant, T)>,
}

impl<T> Default for Deadlines<T> {
    fn default() -> Self {
        Self {
            waiting: Vec::new(),
        }
    }
}

impl<T> Deadlines<T> {
    /// Adds a wait, after those with the same deadline.
    fn push(&mut self, deadline: Instant, item: T) {
        let at = self
            .waiting
            .partition_point(|(other, _)| *other <= deadline);
        self.waiting.insert(at, (deadline, item));
    }

    /// The earliest deadline, if any.
    fn next(&self) -> Option<Instant> {
        self.waiting.first().map(|(deadline, _)| *deadline)
    }

    /// Removes and returns the waits due at `now`, earliest first.
    fn take_due(&mut self, now: Instant) -> Vec<T> {
        let due = self
            .waiting
            .partition_point(|(deadline, _)| *deadline <= now);
        self.waiting.drain(..due).map(|(_, item)| item).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn waits_end_in_deadline_order_and_never_before_their_deadline() {
        let now = Instant::now();
        let ms = Duration::from_millis;
        let mut deadlines = Deadlines::default();
        deadlines.push(now + ms(3), "c");
        deadlines.push(now + ms(1), "a");
        deadlines.push(now + ms(3), "d");
        deadlines.push(now + ms(2), "b");
        assert_eq!(deadlines.next(), Some(now + ms(1)));
        assert!(deadlines.take_due(now).is_empty());
        assert_eq!(deadlines.take_due(now + ms(2)), ["a", "b"]);
        assert_eq!(deadlines.next(), Some(now + ms(3)));
        assert_eq!(deadlines.take_due(now + ms(9)), ["c", "d"]);
        assert_eq!(deadlines.next(), None);
    }

    #[test]
    fn the_thread_ends_the_waits_due_and_stops_with_its_last_handle() {
        let (waits, received) = mpsc::channel();
        let mut woken = Vec::new();
        for _ in 0..3 {
            let (done, answer) = oneshot::channel();
            let deadline = Instant::now();
            waits.send(Waiter { deadline, done }).unwrap();
            woken.push(answer);
        }
        drop(waits);
        // On this thread: it returns once the waits are done and no
        // handle is left.
        serve(&received);
        for mut answer in woken {
            assert_eq!(answer.try_recv(), Ok(()));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_wait_ends_at_its_deadline_not_before() {
        let timer = FineTimer::start();
        let deadline = Instant::now() + Duration::from_millis(2);
        timer.sleep_until(deadline).await;
        assert!(Instant::now() >= deadline);
        // One already due ends at once, on the thread all the same.
        timer.sleep_until(Instant::now()).await;
    }

    #[tokio::test(start_paused = true)]
    async fn without_the_thread_a_wait_falls_back_to_tokios_timer() {
        let timer = FineTimer { waits: None };
        // tokio's paused clock jumps the hour; the thread's would not.
        timer
            .sleep_until(Instant::now() + Duration::from_secs(3600))
            .await;
    }
}
