//! fenn's log output: a bounded buffer that callers append whole lines to
//! without ever waiting on stderr, and one thread that writes it out.
//!
//! A reader that stops reading (a stuck log shipper) fills the pipe: the
//! thread then waits in `write`, the buffer fills, and the lines past
//! [`CAPACITY`] are dropped and counted, not waited for. A reader that is
//! gone (`EPIPE`) drops what was pending, counted too. Once a write goes
//! through again, one line says how many were dropped. Nothing here
//! panics or blocks a request.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Bytes of lines waiting for stderr at most.
pub(crate) const CAPACITY: usize = 256 << 10;

/// Lines waiting to be written, and what was dropped (no I/O).
#[derive(Debug, Default)]
pub(crate) struct Pending {
    bytes: Vec<u8>,
    /// Where each line in `bytes` ends (a line may hold several `\n`).
    ends: Vec<usize>,
    /// Dropped since the last line that said so.
    unreported: u64,
    /// Whether the last write failed: a report waits for new lines then.
    failing: bool,
    /// Whether the thread is writing a chunk taken from here.
    writing: bool,
}

impl Pending {
    /// Appends `line` if it fits in `capacity`; whether it did.
    fn push(&mut self, line: &[u8], capacity: usize) -> bool {
        if self.bytes.len() + line.len() > capacity {
            self.unreported += 1;
            return false;
        }
        self.bytes.extend_from_slice(line);
        self.ends.push(self.bytes.len());
        true
    }

    /// Whether the thread has something to write.
    fn ready(&self) -> bool {
        !self.bytes.is_empty() || (self.unreported > 0 && !self.failing)
    }

    /// Whether everything taken has been written or given up, the count
    /// of dropped lines included (unless the sink fails: it waits then).
    fn idle(&self) -> bool {
        self.bytes.is_empty() && !self.writing && (self.unreported == 0 || self.failing)
    }
}

/// The line saying how many lines were dropped, formatted as fenn's
/// other lines are.
fn report(dropped: u64) -> String {
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ");
    format!(
        "{now}  WARN fenn: {dropped} log lines dropped: stderr did not take them in time (a reader that is slow, stuck or gone)\n"
    )
}

/// The buffer, shared by the callers and the writing thread.
#[derive(Debug, Default)]
pub(crate) struct Output {
    pending: Mutex<Pending>,
    /// Something to write.
    ready: Condvar,
    /// Everything written.
    idle: Condvar,
    capacity: usize,
    dropped: AtomicU64,
}

impl Output {
    /// Starts the thread that writes to `sink`; lines past `capacity`
    /// bytes of them are dropped.
    pub(crate) fn start(
        sink: impl Write + Send + 'static,
        capacity: usize,
    ) -> std::io::Result<Arc<Self>> {
        let output = Arc::new(Self {
            capacity,
            ..Self::default()
        });
        let writer = output.clone();
        std::thread::Builder::new()
            .name("fenn-log".into())
            .spawn(move || writer.write_out(sink))?;
        Ok(output)
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding the lock leaves the buffer whole.
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Holds the buffer (as the writing thread does while it takes a
    /// chunk), for a test.
    #[cfg(test)]
    pub(crate) fn hold(&self) -> MutexGuard<'_, Pending> {
        self.lock()
    }

    /// Appends one line (or drops and counts it), never waiting on the
    /// sink.
    pub(crate) fn line(&self, line: &[u8]) {
        let mut pending = self.lock();
        if pending.push(line, self.capacity) {
            self.ready.notify_one();
        } else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Lines dropped since the start.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Waits, at most `limit`, until every line appended so far is
    /// written; whether it was.
    pub(crate) fn flush(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut pending = self.lock();
        while !pending.idle() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            pending = self
                .idle
                .wait_timeout(pending, left)
                .map_or_else(|error| error.into_inner().0, |(guard, _)| guard);
        }
        true
    }

    /// The thread: takes what is pending and writes it, until the process
    /// ends.
    fn write_out(&self, mut sink: impl Write) {
        let (mut chunk, mut ends) = (Vec::new(), Vec::new());
        loop {
            let dropped = {
                let mut pending = self.lock();
                while !pending.ready() {
                    pending = self
                        .ready
                        .wait(pending)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
                std::mem::swap(&mut chunk, &mut pending.bytes);
                std::mem::swap(&mut ends, &mut pending.ends);
                pending.writing = true;
                std::mem::take(&mut pending.unreported)
            };
            if dropped > 0 {
                chunk.extend_from_slice(report(dropped).as_bytes());
            }
            let (written, result) = write_counted(&mut sink, &chunk);
            let mut pending = self.lock();
            pending.writing = false;
            pending.failing = result.is_err();
            if result.is_err() {
                // The lines not fully written are lost; the report, if
                // any, is made again.
                let lost = ends.iter().filter(|&&end| end > written).count() as u64;
                self.dropped.fetch_add(lost, Ordering::Relaxed);
                pending.unreported += lost + dropped;
            }
            chunk.clear();
            ends.clear();
            self.idle.notify_all();
        }
    }
}

/// Writes `buf` to `sink` and flushes it: how many bytes went through,
/// and whether all did.
fn write_counted(sink: &mut impl Write, buf: &[u8]) -> (usize, std::io::Result<()>) {
    let mut written = 0;
    while written < buf.len() {
        match sink.write(&buf[written..]) {
            Ok(0) => return (written, Err(std::io::ErrorKind::WriteZero.into())),
            Ok(n) => written += n,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return (written, Err(error)),
        }
    }
    (written, sink.flush())
}

/// What `tracing` writes each event through: one `write` of the whole
/// line, appended to the buffer.
#[derive(Debug)]
pub(crate) struct Line<'a>(pub(crate) &'a Output);

impl Write for Line<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.line(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// A sink that fails every write, as a pipe whose reader is gone.
    struct Gone;

    impl Write for Gone {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A sink that says when a write starts and waits for a go to end
    /// it, as a pipe nobody reads, and hands what it wrote to the test.
    struct Stuck {
        entered: mpsc::Sender<()>,
        go: mpsc::Receiver<()>,
        wrote: mpsc::Sender<Vec<u8>>,
    }

    impl Write for Stuck {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _ = self.entered.send(());
            let _ = self.go.recv();
            let _ = self.wrote.send(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_full_buffer_drops_and_counts_lines_without_waiting() {
        let (entered, writing) = mpsc::channel();
        let (go, gate) = mpsc::channel();
        let (wrote, written) = mpsc::channel();
        let sink = Stuck {
            entered,
            go: gate,
            wrote,
        };
        let output = Output::start(sink, 100).unwrap();
        output.line(b"first\n");
        writing.recv().unwrap();
        // The thread waits in write: 9 lines of 11 bytes fit, 41 do not.
        for _ in 0..50 {
            output.line(b"0123456789\n");
        }
        assert_eq!(output.dropped(), 41);
        assert!(
            !output.flush(Duration::from_millis(10)),
            "the sink is stuck"
        );
        go.send(()).unwrap();
        assert_eq!(written.recv().unwrap(), b"first\n");
        writing.recv().unwrap();
        go.send(()).unwrap();
        let rest = String::from_utf8(written.recv().unwrap()).unwrap();
        assert_eq!(rest.matches("0123456789\n").count(), 9, "{rest}");
        assert!(
            rest.ends_with(" WARN fenn: 41 log lines dropped: stderr did not take them in time (a reader that is slow, stuck or gone)\n"),
            "{rest}"
        );
        assert!(output.flush(Duration::from_secs(5)));
    }

    #[test]
    fn a_reader_gone_drops_and_counts_what_was_pending_and_goes_on() {
        let output = Output::start(Gone, 1 << 10).unwrap();
        for _ in 0..10 {
            output.line(b"a line\n");
            assert!(output.flush(Duration::from_secs(5)));
        }
        assert_eq!(output.dropped(), 10);
        output.line(b"one more\n");
        assert!(output.flush(Duration::from_secs(5)));
        assert_eq!(output.dropped(), 11);
    }

    /// A sink that takes `room` bytes, then fails as a pipe whose reader
    /// went away.
    struct Closes {
        room: usize,
    }

    impl Write for Closes {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.room == 0 {
                return Err(std::io::ErrorKind::BrokenPipe.into());
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_write_that_fails_midway_counts_only_the_lines_not_written() {
        // Lines queued before the thread starts go out as one chunk.
        let output = Arc::new(Output {
            capacity: 1 << 10,
            ..Output::default()
        });
        for _ in 0..4 {
            output.line(b"12345\n");
        }
        output.line(b"a line\nof two\n");
        let writer = output.clone();
        std::thread::spawn(move || writer.write_out(Closes { room: 15 }));
        assert!(output.flush(Duration::from_secs(5)));
        // Two lines written whole, the third in part: three lines lost,
        // the one with two newlines counted once.
        assert_eq!(output.dropped(), 3);
        assert_eq!(output.lock().unreported, 3);
    }

    #[test]
    fn a_count_still_to_report_is_not_idle() {
        let mut pending = Pending::default();
        assert!(pending.idle());
        assert!(!pending.push(b"too long\n", 4));
        assert!(!pending.idle(), "the report is still to write");
        pending.failing = true;
        assert!(pending.idle(), "a failing sink is not waited for");
    }

    #[test]
    fn pending_reports_only_when_a_write_may_go_through() {
        let mut pending = Pending::default();
        assert!(!pending.push(b"too long\n", 4));
        assert!(pending.ready(), "a report to write");
        pending.failing = true;
        assert!(
            !pending.ready(),
            "not while the sink fails, until new lines"
        );
        assert!(pending.push(b"ok\n", 4));
        assert!(pending.ready());
    }
}
