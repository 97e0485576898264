//! Frames on the parent ↔ worker socket.
//!
//! ```text
//! frame = len: u32 LE | kind: u8 | body: [u8; len - 1]
//!
//! parent → worker   CALL    body = op_len: u16 LE | op | encoded arguments
//! worker → parent   READY   body = (empty), once, after start-up
//!                   VALUE   body = encoded return value
//!                   PANIC   body = the panic message, UTF-8
//!                   ERROR   body = why the call could not run (codec, unknown op)
//! ```
//!
//! One request is answered by exactly one reply before the next is sent, so a
//! worker never holds more than one call.

use std::io::{self, Read, Write};

pub(crate) const CALL: u8 = 1;
pub(crate) const READY: u8 = 0x10;
pub(crate) const VALUE: u8 = 0x11;
pub(crate) const PANIC: u8 = 0x12;
pub(crate) const ERROR: u8 = 0x13;

const HEADER: usize = 5;

/// A frame being written: the header is reserved, then filled in by
/// [`finish`](Self::finish) once the body is known.
pub(crate) struct FrameBuf(Vec<u8>);

impl FrameBuf {
    pub(crate) fn new(kind: u8) -> FrameBuf {
        FrameBuf::reuse(Vec::with_capacity(256), kind)
    }

    /// A frame written into `buf`'s allocation.
    pub(crate) fn reuse(mut buf: Vec<u8>, kind: u8) -> FrameBuf {
        buf.clear();
        buf.extend_from_slice(&[0; 4]);
        buf.push(kind);
        FrameBuf(buf)
    }

    /// A `CALL` frame for `op`, ready for the encoded arguments.
    pub(crate) fn call(op: &str) -> FrameBuf {
        let mut frame = FrameBuf::new(CALL);
        let len = u16::try_from(op.len()).expect("op names are short");
        frame.0.extend_from_slice(&len.to_le_bytes());
        frame.0.extend_from_slice(op.as_bytes());
        frame
    }

    /// The body, to append to.
    pub(crate) fn body(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }

    /// Writes the length into the header; the frame is ready to send.
    pub(crate) fn finish(mut self) -> io::Result<Vec<u8>> {
        let len = u32::try_from(self.0.len() - 4).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "a process-pool message is larger than 4 GiB; pass large data by path instead",
            )
        })?;
        self.0[..4].copy_from_slice(&len.to_le_bytes());
        Ok(self.0)
    }
}

/// Writes one complete frame.
pub(crate) fn send(dst: &mut impl Write, frame: &[u8]) -> io::Result<()> {
    dst.write_all(frame)
}

/// Splits a `CALL` body into the op name and the encoded arguments.
pub(crate) fn split_call(body: &[u8]) -> Option<(&str, &[u8])> {
    let len = usize::from(u16::from_le_bytes(body.get(..2)?.try_into().ok()?));
    let op = std::str::from_utf8(body.get(2..2 + len)?).ok()?;
    Some((op, &body[2 + len..]))
}

/// What made [`FrameReader::next`] give up.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The other side closed the socket (between frames or inside one).
    Closed,
    /// The `idle` callback asked to stop waiting.
    Abandoned,
    /// Any other IO error.
    Io(io::Error),
}

/// Reads frames from a stream, keeping partial reads across read timeouts, so a
/// reader may wake up periodically (to check for cancellation) without losing
/// its place in a frame.
pub(crate) struct FrameReader {
    buf: Vec<u8>,
    filled: usize,
}

impl std::fmt::Debug for FrameReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameReader")
            .field("buffered", &self.filled)
            .finish()
    }
}

impl FrameReader {
    pub(crate) fn new() -> FrameReader {
        FrameReader {
            buf: vec![0; 16 * 1024],
            filled: 0,
        }
    }

    /// The next frame's kind and body. When a read times out (the stream has a
    /// read timeout), `idle` is called: `false` abandons the wait.
    pub(crate) fn next(
        &mut self,
        src: &mut impl Read,
        mut idle: impl FnMut() -> bool,
    ) -> Result<(u8, Vec<u8>), ReadError> {
        loop {
            if let Some(frame) = self.take() {
                return Ok(frame);
            }
            if self.filled == self.buf.len() {
                let grown = self.buf.len() * 2;
                self.buf.resize(grown, 0);
            }
            match src.read(&mut self.buf[self.filled..]) {
                Ok(0) => return Err(ReadError::Closed),
                Ok(n) => self.filled += n,
                Err(err) => match err.kind() {
                    io::ErrorKind::Interrupted => {}
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                        if !idle() {
                            return Err(ReadError::Abandoned);
                        }
                    }
                    _ => return Err(ReadError::Io(err)),
                },
            }
        }
    }

    /// A complete frame from the buffer, if there is one; otherwise makes room
    /// for the rest of the one that is arriving.
    fn take(&mut self) -> Option<(u8, Vec<u8>)> {
        if self.filled < HEADER {
            return None;
        }
        let len = u32::from_le_bytes(self.buf[..4].try_into().expect("4 bytes")) as usize;
        let total = 4 + len.max(1);
        if self.filled < total {
            if self.buf.len() < total {
                self.buf.resize(total, 0);
            }
            return None;
        }
        let kind = self.buf[4];
        let body = self.buf[HEADER..total].to_vec();
        self.buf.copy_within(total..self.filled, 0);
        self.filled -= total;
        // Do not keep a large call's buffer for the life of the worker.
        if self.buf.len() > 1 << 20 && self.filled <= 16 * 1024 {
            self.buf.truncate(16 * 1024);
            self.buf.shrink_to_fit();
        }
        Some((kind, body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out its bytes a few at a time, with a timeout between pieces.
    struct Trickle {
        data: Vec<u8>,
        at: usize,
        timeout_next: bool,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.timeout_next = !self.timeout_next;
            if self.timeout_next {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(3).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    #[test]
    fn frames_survive_timeouts_and_split_reads() {
        let mut data = Vec::new();
        let mut call = FrameBuf::call("heavy");
        call.body().extend_from_slice(&[1, 2, 3]);
        data.extend(call.finish().unwrap());
        data.extend(FrameBuf::new(READY).finish().unwrap());
        let big = FrameBuf::reuse(vec![9; 40_000], VALUE);
        let mut big = big;
        big.body().extend(std::iter::repeat_n(7u8, 40_000));
        data.extend(big.finish().unwrap());

        let mut src = Trickle {
            data,
            at: 0,
            timeout_next: false,
        };
        let mut reader = FrameReader::new();
        let mut idles = 0;
        let (kind, body) = reader
            .next(&mut src, || {
                idles += 1;
                true
            })
            .unwrap();
        assert_eq!(kind, CALL);
        assert_eq!(split_call(&body), Some(("heavy", &[1u8, 2, 3][..])));
        let (kind, body) = reader.next(&mut src, || true).unwrap();
        assert_eq!((kind, body.len()), (READY, 0));
        let (kind, body) = reader.next(&mut src, || true).unwrap();
        assert_eq!((kind, body.len()), (VALUE, 40_000));
        assert!(body.iter().all(|&b| b == 7));
        assert!(matches!(
            reader.next(&mut src, || true),
            Err(ReadError::Closed)
        ));
        assert!(idles > 0);
    }

    #[test]
    fn idle_can_abandon_the_wait() {
        let mut src = Trickle {
            data: Vec::new(),
            at: 0,
            timeout_next: false,
        };
        let mut reader = FrameReader::new();
        assert!(matches!(
            reader.next(&mut src, || false),
            Err(ReadError::Abandoned)
        ));
    }
}
