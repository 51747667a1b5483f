//! Draining a child's stdout/stderr on threads with a byte cap, so a chatty program can neither
//! deadlock on a full pipe nor fill our memory.
//!
//! Each pipe is read to its end on its own thread (the pattern `std::process::Child::
//! wait_with_output` uses internally, with a cap added). stdout keeps its first `cap` bytes,
//! stderr its last `cap` bytes (a traceback ends at the bottom). The result is sent on a channel
//! so the caller can stop waiting and keep what was read: a grandchild that escaped the sandbox's
//! kill could hold the write end open forever.

use std::io::Read;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Which end of the output to keep when it exceeds the cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Keep {
    /// The first `cap` bytes.
    Head,
    /// The last `cap` bytes.
    Tail,
}

/// Output captured from one pipe.
#[derive(Debug, Default)]
pub(crate) struct Captured {
    /// The kept bytes.
    pub bytes: Vec<u8>,
    /// Bytes read and thrown away because of the cap.
    pub dropped: u64,
    /// The pipe was still open when we stopped waiting.
    pub still_open: bool,
}

impl Captured {
    /// The kept bytes as text, with a note where bytes were dropped.
    pub(crate) fn into_text(self, keep: Keep) -> String {
        let mut text = String::from_utf8_lossy(&self.bytes).into_owned();
        if self.dropped > 0 {
            text = match keep {
                Keep::Head => format!("{text}\n[... {} more bytes dropped ...]", self.dropped),
                Keep::Tail => format!("[... {} earlier bytes dropped ...]\n{text}", self.dropped),
            };
        }
        if self.still_open {
            text.push_str(
                "\n[... still open: a process that escaped the sandbox holds this pipe ...]",
            );
        }
        text
    }
}

/// A pipe being drained on a background thread.
pub(crate) struct Drain {
    captured: Arc<Mutex<Captured>>,
    done: Receiver<()>,
}

impl Drain {
    /// Starts draining `pipe` on a new thread, keeping at most `cap` bytes.
    pub(crate) fn spawn(mut pipe: impl Read + Send + 'static, cap: usize, keep: Keep) -> Self {
        let captured = Arc::new(Mutex::new(Captured::default()));
        let (tx, done) = mpsc::channel();
        let sink = Arc::clone(&captured);
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                let n = match pipe.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                };
                push(
                    &mut sink.lock().unwrap_or_else(PoisonError::into_inner),
                    &buf[..n],
                    cap,
                    keep,
                );
            }
            // The receiver may have given up waiting; nothing to do then.
            let _ = tx.send(());
        });
        Drain { captured, done }
    }

    /// Waits until the pipe is closed or `deadline` passes, and returns what was read. A
    /// process that escaped the sandbox's kill can hold the pipe open; the reading thread is
    /// then left behind (it ends when that process does) and the capture says so.
    pub(crate) fn finish(self, deadline: Instant) -> Captured {
        let wait = deadline.saturating_duration_since(Instant::now());
        let closed = self
            .done
            .recv_timeout(wait.max(Duration::from_millis(1)))
            .is_ok();
        let mut guard = self.captured.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = std::mem::take(&mut *guard);
        if !closed {
            out.still_open = true;
        }
        out
    }
}

/// Appends `chunk` to `out`, enforcing the cap.
fn push(out: &mut Captured, chunk: &[u8], cap: usize, keep: Keep) {
    match keep {
        Keep::Head => {
            let room = cap.saturating_sub(out.bytes.len());
            let take = room.min(chunk.len());
            out.bytes.extend_from_slice(&chunk[..take]);
            out.dropped += (chunk.len() - take) as u64;
        }
        Keep::Tail => {
            out.bytes.extend_from_slice(chunk);
            // Trim only once the buffer is twice the cap, so trimming stays amortised O(1).
            if out.bytes.len() > cap.saturating_mul(2).max(1) {
                let excess = out.bytes.len() - cap;
                out.bytes.drain(..excess);
                out.dropped += excess as u64;
            }
        }
    }
}

/// Trims a tail capture to exactly `cap` bytes (`push` lets it grow to twice that).
pub(crate) fn trim_tail(out: &mut Captured, cap: usize) {
    if out.bytes.len() > cap {
        let excess = out.bytes.len() - cap;
        out.bytes.drain(..excess);
        out.dropped += excess as u64;
    }
}

/// The last `max_bytes` of `text`, cut at a character boundary.
pub(crate) fn tail_str(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut start = text.len() - max_bytes;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_keeps_the_first_bytes() {
        let mut out = Captured::default();
        push(&mut out, b"hello ", 8, Keep::Head);
        push(&mut out, b"world", 8, Keep::Head);
        assert_eq!(out.bytes, b"hello wo");
        assert_eq!(out.dropped, 3);
        assert!(
            out.into_text(Keep::Head)
                .ends_with("[... 3 more bytes dropped ...]")
        );
    }

    #[test]
    fn tail_keeps_the_last_bytes() {
        let mut out = Captured::default();
        for chunk in [b"abcd", b"efgh", b"ijkl"] {
            push(&mut out, chunk, 4, Keep::Tail);
        }
        trim_tail(&mut out, 4);
        assert_eq!(out.bytes, b"ijkl");
        assert_eq!(out.dropped, 8);
    }

    #[test]
    fn tail_str_respects_char_boundaries() {
        assert_eq!(tail_str("añb", 2), "b");
        assert_eq!(tail_str("añb", 3), "ñb");
        assert_eq!(tail_str("ab", 10), "ab");
    }

    #[test]
    fn drain_reads_a_pipe_to_the_end() {
        let data = vec![b'x'; 100_000];
        let drain = Drain::spawn(std::io::Cursor::new(data), 1000, Keep::Head);
        let out = drain.finish(Instant::now() + Duration::from_secs(5));
        assert_eq!(out.bytes.len(), 1000);
        assert_eq!(out.dropped, 99_000);
    }
}
