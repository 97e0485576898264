//! Frames on the parent ↔ worker socket.
//!
//! ```text
//! frame = len: u32 LE | kind: u8 | body: [u8; len - 1]
//!
//! parent → worker   CALL     body = id: u64 LE | flags: u8 | memory_limit: u64 LE (0: none)
//!                                   | op_len: u16 LE | op | encoded arguments
//!                   CANCEL   body = id: u64 LE
//! worker → parent   READY    body = (empty), once, after start-up
//!                   STARTED  body = id: u64 LE
//!                   SKIPPED  body = id: u64 LE
//!                   VALUE    body = id: u64 LE | ran: u32 LE | encoded return value
//!                   PANIC    body = id: u64 LE | ran: u32 LE | the panic message, UTF-8
//!                   ERROR    body = id: u64 LE | ran: u32 LE | why the call could not
//!                                   run (codec, unknown op)
//! ```
//!
//! Several calls may be in flight to one worker (pipelining); it runs them one
//! at a time, in the order they arrive, and answers each by its id. Before it
//! starts a call it reads every frame that has arrived, so a `CANCEL` that
//! arrived first takes the call out unrun (`SKIPPED`). It reports `STARTED`
//! before it runs a call, unless the call's [`IMPLICIT_START`] flag says the
//! parent counts it as started as soon as it is sent (it was sent to a worker
//! with nothing else in flight, which starts it as soon as it reads it): so
//! the parent always knows which of its calls a worker may be running, and
//! which it certainly has not started, which may go to another worker if
//! this one dies. A `STARTED` is written together with the previous call's
//! reply, so a worker with calls queued writes once per call. A reply says
//! how long the call ran in the worker (`ran`, in microseconds), which tells
//! the parent whether to queue calls behind the next one.

use std::io::{self, Read, Write};
use std::num::NonZeroU64;

pub(crate) const CALL: u8 = 1;
pub(crate) const CANCEL: u8 = 2;
pub(crate) const READY: u8 = 0x10;
pub(crate) const VALUE: u8 = 0x11;
pub(crate) const PANIC: u8 = 0x12;
pub(crate) const ERROR: u8 = 0x13;
pub(crate) const STARTED: u8 = 0x14;
pub(crate) const SKIPPED: u8 = 0x15;

/// A `CALL` flag: the parent counts the call as started once it is sent, so
/// the worker reports no `STARTED` for it.
pub(crate) const IMPLICIT_START: u8 = 1;

const HEADER: usize = 5;

/// Where a `CALL` frame's id and flags are, from the frame's start.
const CALL_ID: std::ops::Range<usize> = HEADER..HEADER + 8;
const CALL_FLAGS: usize = HEADER + 8;

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

    /// A `CALL` frame for `op`, to run under `memory_limit`, in `buf`'s
    /// allocation, ready for the encoded arguments. Its id and flags are set
    /// as it is sent ([`address`]).
    pub(crate) fn call(buf: Vec<u8>, op: &str, memory_limit: Option<NonZeroU64>) -> FrameBuf {
        let mut frame = FrameBuf::reuse(buf, CALL);
        frame.0.extend_from_slice(&[0; 9]);
        let limit = memory_limit.map_or(0, NonZeroU64::get);
        frame.0.extend_from_slice(&limit.to_le_bytes());
        let len = u16::try_from(op.len()).expect("op names are short");
        frame.0.extend_from_slice(&len.to_le_bytes());
        frame.0.extend_from_slice(op.as_bytes());
        frame
    }

    /// A frame of `kind` whose body is `id` and then `rest`, appended to
    /// `out`.
    pub(crate) fn tagged(out: &mut Vec<u8>, kind: u8, id: u64, rest: &[u8]) {
        let len = u32::try_from(1 + 8 + rest.len()).expect("a tagged frame is small");
        out.extend_from_slice(&len.to_le_bytes());
        out.push(kind);
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(rest);
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

/// Sets the id and flags of a finished `CALL` frame.
pub(crate) fn address(frame: &mut [u8], id: u64, flags: u8) {
    frame[CALL_ID].copy_from_slice(&id.to_le_bytes());
    frame[CALL_FLAGS] = flags;
}

/// Where a reply's `ran` is, from the frame's start.
const REPLY_RAN: std::ops::Range<usize> = HEADER + 8..HEADER + 12;

/// Sets how long the call a finished reply frame answers ran.
pub(crate) fn set_ran(frame: &mut [u8], ran: std::time::Duration) {
    let micros = u32::try_from(ran.as_micros()).unwrap_or(u32::MAX);
    frame[REPLY_RAN].copy_from_slice(&micros.to_le_bytes());
}

/// A reply body's `ran` and the rest.
pub(crate) fn split_ran(rest: &[u8]) -> Option<(std::time::Duration, &[u8])> {
    let (ran, rest) = rest.split_first_chunk::<4>()?;
    let micros = u64::from(u32::from_le_bytes(*ran));
    Some((std::time::Duration::from_micros(micros), rest))
}

/// The id at the start of a body (of every frame but `READY`), and the rest.
pub(crate) fn split_id(body: &[u8]) -> Option<(u64, &[u8])> {
    let (id, rest) = body.split_first_chunk::<8>()?;
    Some((u64::from_le_bytes(*id), rest))
}

/// A `CALL` body, split.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Request<'a> {
    pub(crate) id: u64,
    /// The call's flags ([`IMPLICIT_START`]).
    pub(crate) flags: u8,
    /// The limit the worker holds itself to while the call runs.
    pub(crate) memory_limit: Option<NonZeroU64>,
    pub(crate) op: &'a str,
    /// The encoded arguments.
    pub(crate) args: &'a [u8],
}

/// Splits a `CALL` body into its memory limit, the op name and the encoded
/// arguments.
pub(crate) fn split_call(body: &[u8]) -> Option<Request<'_>> {
    let (id, body) = split_id(body)?;
    let (&flags, body) = body.split_first()?;
    let (limit, body) = body.split_first_chunk::<8>()?;
    let (len, body) = body.split_first_chunk::<2>()?;
    let (op, args) = body.split_at_checked(usize::from(u16::from_le_bytes(*len)))?;
    Some(Request {
        id,
        flags,
        memory_limit: NonZeroU64::new(u64::from_le_bytes(*limit)),
        op: std::str::from_utf8(op).ok()?,
        args,
    })
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
///
/// Small frames are read through a fixed buffer, several at a time if they
/// arrive together. A frame too large for it gets its body read straight into a
/// vector of its exact size, without zero-filling or copying it; a caller that
/// is done with such a body can hand it back with [`recycle`](Self::recycle),
/// so that a worker receiving large arguments reuses one allocation.
pub(crate) struct FrameReader {
    buf: Box<[u8]>,
    filled: usize,
    /// A large body's allocation, kept for the next large frame.
    spare: Vec<u8>,
}

impl std::fmt::Debug for FrameReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameReader")
            .field("buffered", &self.filled)
            .finish()
    }
}

/// The fixed buffer's size; larger frames take the large path.
const BUFFER: usize = 16 * 1024;

/// The largest body allocation worth keeping between frames.
const KEEP: usize = 64 << 20;

impl FrameReader {
    pub(crate) fn new() -> FrameReader {
        FrameReader {
            buf: vec![0; BUFFER].into_boxed_slice(),
            filled: 0,
            spare: Vec::new(),
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
            if self.filled >= HEADER {
                let total = 4 + self.frame_len();
                if total > self.buf.len() {
                    return self.next_large(src, total, idle);
                }
                if self.filled >= total {
                    return Ok(self.take(total));
                }
            }
            match src.read(&mut self.buf[self.filled..]) {
                Ok(0) => return Err(ReadError::Closed),
                Ok(n) => self.filled += n,
                Err(err) => retry_or_fail(err, &mut idle)?,
            }
        }
    }

    /// Hands back a body returned by [`next`](Self::next), to be reused.
    pub(crate) fn recycle(&mut self, body: Vec<u8>) {
        if body.capacity() > self.spare.capacity() && body.capacity() <= KEEP {
            self.spare = body;
        }
    }

    /// The length field of the frame at the start of the buffer (the kind
    /// byte included, so at least 1).
    fn frame_len(&self) -> usize {
        let len = u32::from_le_bytes(self.buf[..4].try_into().expect("4 bytes")) as usize;
        len.max(1)
    }

    /// The complete frame of `total` bytes at the start of the buffer.
    fn take(&mut self, total: usize) -> (u8, Vec<u8>) {
        let kind = self.buf[4];
        let body = self.buf[HEADER..total].to_vec();
        self.buf.copy_within(total..self.filled, 0);
        self.filled -= total;
        (kind, body)
    }

    /// A frame larger than the buffer, whose start is in the buffer (and
    /// nothing after it: it fills the buffer at most).
    fn next_large(
        &mut self,
        src: &mut impl Read,
        total: usize,
        mut idle: impl FnMut() -> bool,
    ) -> Result<(u8, Vec<u8>), ReadError> {
        let kind = self.buf[4];
        let len = total - HEADER;
        let mut body = std::mem::take(&mut self.spare);
        body.clear();
        body.reserve_exact(len);
        body.extend_from_slice(&self.buf[HEADER..self.filled]);
        self.filled = 0;
        while body.len() < len {
            let missing = (len - body.len()) as u64;
            // `read_to_end` reads into the spare capacity as is: no zero fill.
            match (&mut *src).take(missing).read_to_end(&mut body) {
                Ok(0) => return Err(ReadError::Closed),
                Ok(_) => {}
                Err(err) => retry_or_fail(err, &mut idle)?,
            }
        }
        Ok((kind, body))
    }

    /// Whether bytes of a next frame are buffered already: then
    /// [`next`](Self::next) returns a frame without waiting for the socket to
    /// become readable (the rest of a frame that has begun is on its way).
    pub(crate) fn buffered(&self) -> bool {
        self.filled > 0
    }
}

/// What a failed read means: retry (interrupted, or timed out and `idle`
/// says go on), or give up.
fn retry_or_fail(err: io::Error, idle: &mut impl FnMut() -> bool) -> Result<(), ReadError> {
    match err.kind() {
        io::ErrorKind::Interrupted => Ok(()),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut if idle() => Ok(()),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Err(ReadError::Abandoned),
        _ => Err(ReadError::Io(err)),
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
        let mut call = FrameBuf::call(Vec::new(), "heavy", NonZeroU64::new(64 << 20));
        call.body().extend_from_slice(&[1, 2, 3]);
        let mut call = call.finish().unwrap();
        address(&mut call, 7, IMPLICIT_START);
        data.extend(call);
        let call = FrameBuf::call(Vec::new(), "light", None);
        data.extend(call.finish().unwrap());
        data.extend(FrameBuf::new(READY).finish().unwrap());
        FrameBuf::tagged(&mut data, STARTED, 9, &[]);
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
        let request = Request {
            id: 7,
            flags: IMPLICIT_START,
            memory_limit: NonZeroU64::new(64 << 20),
            op: "heavy",
            args: &[1, 2, 3],
        };
        assert_eq!(split_call(&body), Some(request));
        let (kind, body) = reader.next(&mut src, || true).unwrap();
        assert_eq!(kind, CALL);
        let request = Request {
            id: 0,
            flags: 0,
            memory_limit: None,
            op: "light",
            args: &[],
        };
        assert_eq!(split_call(&body), Some(request));
        let (kind, body) = reader.next(&mut src, || true).unwrap();
        assert_eq!((kind, body.len()), (READY, 0));
        let (kind, body) = reader.next(&mut src, || true).unwrap();
        assert_eq!((kind, split_id(&body)), (STARTED, Some((9, &[][..]))));
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
