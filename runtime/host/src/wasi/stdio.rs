//! One WASI invocation's standard streams, environment and arguments:
//! plain buffers, bounded, with no I/O.

use crate::guest_log::MAX_LINE;
use fenn_abi::abi::LogLevel;

/// What a WASI guest reads and writes in one event.
pub(crate) struct Stdio {
    /// The event (JSON, or a web request's body), read once.
    stdin: Vec<u8>,
    read: usize,
    /// What the guest wrote to stdout, at most `max_stdout` bytes.
    pub(crate) stdout: Vec<u8>,
    max_stdout: usize,
    /// Set when the guest wrote more than `max_stdout`.
    pub(crate) stdout_over: bool,
    /// Set when a call was refused for costing more than the budget left.
    pub(crate) out_of_fuel: bool,
    /// A stderr line not yet ended.
    stderr: Vec<u8>,
    /// The last stderr line, as the reason of a failure.
    pub(crate) last_line: Option<String>,
    /// `NAME=value\0` strings, and how many.
    pub(crate) environ: Vec<u8>,
    pub(crate) environ_count: usize,
    /// `argv[0]\0`: the function's name.
    pub(crate) args: Vec<u8>,
    /// Whether the output is a CGI response rather than JSON.
    pub(crate) web: bool,
    /// When the invocation started: the origin of the CPU-time clocks.
    pub(crate) started: std::time::Instant,
}

impl Stdio {
    /// Streams for one event: `stdin` to read, at most `max_stdout` bytes
    /// to write.
    pub(crate) fn new(function: &str, stdin: Vec<u8>, max_stdout: usize) -> Self {
        let mut args = function.as_bytes().to_vec();
        args.retain(|&b| b != 0);
        args.push(0);
        Self {
            stdin,
            read: 0,
            stdout: Vec::new(),
            max_stdout,
            stdout_over: false,
            out_of_fuel: false,
            stderr: Vec::new(),
            last_line: None,
            environ: Vec::new(),
            environ_count: 0,
            args,
            web: false,
            started: std::time::Instant::now(),
        }
    }

    /// Adds `name=value` to the environment; a name holding `=` or a NUL,
    /// or a value holding a NUL, cannot be written and is left out.
    pub(crate) fn set_env(&mut self, name: &str, value: &str) {
        if name.is_empty() || name.contains(['=', '\0']) || value.contains('\0') {
            return;
        }
        self.environ.extend_from_slice(name.as_bytes());
        self.environ.push(b'=');
        self.environ.extend_from_slice(value.as_bytes());
        self.environ.push(0);
        self.environ_count += 1;
    }

    /// Up to `max` bytes of stdin; empty at its end.
    pub(crate) fn read(&mut self, max: usize) -> &[u8] {
        let start = self.read;
        let end = start.saturating_add(max).min(self.stdin.len());
        self.read = end;
        &self.stdin[start..end]
    }

    /// Appends to stdout; false (and nothing kept) once it would pass its
    /// bound.
    pub(crate) fn write_stdout(&mut self, bytes: &[u8]) -> bool {
        if self.stdout.len().saturating_add(bytes.len()) > self.max_stdout {
            self.stdout_over = true;
            return false;
        }
        self.stdout.extend_from_slice(bytes);
        true
    }

    /// Appends to stderr and hands each line it ends to `line`. A line
    /// longer than a log line is cut there and goes on as another.
    pub(crate) fn write_stderr(&mut self, mut bytes: &[u8], line: &mut impl FnMut(&[u8])) {
        while !bytes.is_empty() {
            let room = MAX_LINE - self.stderr.len();
            let take = bytes.len().min(room);
            match bytes[..take].iter().position(|&b| b == b'\n') {
                Some(end) => {
                    self.stderr.extend_from_slice(&bytes[..end]);
                    bytes = &bytes[end + 1..];
                    self.flush_stderr(line);
                }
                None => {
                    self.stderr.extend_from_slice(&bytes[..take]);
                    bytes = &bytes[take..];
                    if self.stderr.len() == MAX_LINE {
                        self.flush_stderr(line);
                    }
                }
            }
        }
    }

    /// Hands the line not yet ended, if any, to `line`.
    pub(crate) fn flush_stderr(&mut self, line: &mut impl FnMut(&[u8])) {
        if self.stderr.last() == Some(&b'\r') {
            self.stderr.pop();
        }
        if !self.stderr.is_empty() {
            line(&self.stderr);
            self.last_line = Some(crate::guest_log::reason(&self.stderr));
        }
        self.stderr.clear();
    }
}

/// A stderr line's level, by its prefix (`debug:`, `info:`, `warn:`,
/// `warning:`, `error:`, in any case), and the text after it; any other
/// line is info, as written.
pub(crate) fn level_of(line: &[u8]) -> (LogLevel, &[u8]) {
    const PREFIXES: [(&[u8], LogLevel); 5] = [
        (b"debug:", LogLevel::Debug),
        (b"info:", LogLevel::Info),
        (b"warn:", LogLevel::Warn),
        (b"warning:", LogLevel::Warn),
        (b"error:", LogLevel::Error),
    ];
    for (prefix, level) in PREFIXES {
        if line.len() >= prefix.len() && line[..prefix.len()].eq_ignore_ascii_case(prefix) {
            let rest = &line[prefix.len()..];
            return (level, rest.strip_prefix(b" ").unwrap_or(rest));
        }
    }
    (LogLevel::Info, line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(stdio: &mut Stdio, writes: &[&[u8]]) -> Vec<String> {
        let mut seen = Vec::new();
        for bytes in writes {
            stdio.write_stderr(bytes, &mut |l| {
                seen.push(String::from_utf8_lossy(l).into_owned());
            });
        }
        stdio.flush_stderr(&mut |l| seen.push(String::from_utf8_lossy(l).into_owned()));
        seen
    }

    #[test]
    fn stderr_is_cut_into_lines_across_writes() {
        let mut stdio = Stdio::new("f", Vec::new(), 10);
        let seen = lines(&mut stdio, &[b"one\ntw", b"o\r\n", b"\nthree"]);
        assert_eq!(seen, ["one", "two", "three"]);
    }

    #[test]
    fn a_long_stderr_line_is_cut_at_a_log_line() {
        let mut stdio = Stdio::new("f", Vec::new(), 10);
        let long = vec![b'x'; MAX_LINE * 2 + 5];
        let seen = lines(&mut stdio, &[&long]);
        let lens: Vec<usize> = seen.iter().map(String::len).collect();
        assert_eq!(lens, [MAX_LINE, MAX_LINE, 5]);
    }

    #[test]
    fn stdout_keeps_nothing_past_its_bound() {
        let mut stdio = Stdio::new("f", Vec::new(), 4);
        assert!(stdio.write_stdout(b"abc"));
        assert!(!stdio.write_stdout(b"de"));
        assert!(stdio.stdout_over);
        assert_eq!(stdio.stdout, b"abc");
    }

    #[test]
    fn stdin_reads_to_its_end_and_then_nothing() {
        let mut stdio = Stdio::new("f", b"hello".to_vec(), 0);
        assert_eq!(stdio.read(3), b"hel");
        assert_eq!(stdio.read(30), b"lo");
        assert_eq!(stdio.read(30), b"");
    }

    #[test]
    fn the_environment_leaves_out_what_it_cannot_write() {
        let mut stdio = Stdio::new("f", Vec::new(), 0);
        stdio.set_env("A", "1");
        stdio.set_env("B=C", "2");
        stdio.set_env("D", "x\0y");
        assert_eq!(stdio.environ, b"A=1\0");
        assert_eq!(stdio.environ_count, 1);
    }

    #[test]
    fn a_prefix_sets_the_level() {
        assert_eq!(level_of(b"WARN: hot"), (LogLevel::Warn, &b"hot"[..]));
        assert_eq!(level_of(b"error:x"), (LogLevel::Error, &b"x"[..]));
        assert_eq!(level_of(b"plain"), (LogLevel::Info, &b"plain"[..]));
    }
}
