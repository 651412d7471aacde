//! Length-prefixed frames: the only thing that crosses the pipe between the server and a worker.
//!
//! ```text
//! 0..4    magic  b"PZW1"
//! 4..8    header length, u32 big-endian   (1 ..= MAX_HEADER_BYTES)
//! 8..12   payload length, u32 big-endian  (0 ..= MAX_PAYLOAD_BYTES)
//! ...     header: UTF-8 JSON (message.rs)
//! ...     payload: raw bytes (audio samples, f32 little-endian), empty for everything else
//! ```
//!
//! The magic is there so that a reader that met garbage can find the next frame again
//! ([`resync`]) instead of reading some random length and waiting forever for bytes that never
//! come. The limits are checked before anything is allocated, so a bad length costs nothing.
//! Reading here is blocking (`std::io::Read`); the async client reads the same layout with
//! [`parse_prefix`].

use std::io::{self, Read, Write};

/// The first four bytes of every frame.
pub const MAGIC: [u8; 4] = *b"PZW1";
/// Magic plus the two lengths.
pub const PREFIX_LEN: usize = 12;
/// A header is a small JSON object; the largest is a translation request with its glossary.
pub const MAX_HEADER_BYTES: u32 = 256 * 1024;
/// Room for 30 s of 16 kHz f32 audio (1.92 MB) with a wide margin, so that a request that is
/// too long arrives and is refused by the worker with a reason rather than cut off here.
pub const MAX_PAYLOAD_BYTES: u32 = 8 * 1024 * 1024;

/// One frame as read from the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub header: Vec<u8>,
    pub payload: Vec<u8>,
}

/// The lengths announced by a frame's prefix, already checked against the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    pub header_len: u32,
    pub payload_len: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The stream ended cleanly between two frames.
    #[error("end of stream")]
    Eof,
    /// The stream ended inside a frame.
    #[error("stream ended inside a frame")]
    Truncated,
    #[error("bad frame magic")]
    BadMagic([u8; 4]),
    #[error("frame header is empty")]
    EmptyHeader,
    #[error("frame header of {0} bytes is over the limit of {MAX_HEADER_BYTES}")]
    HeaderTooLarge(u32),
    #[error("frame payload of {0} bytes is over the limit of {MAX_PAYLOAD_BYTES}")]
    PayloadTooLarge(u32),
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
}

impl FrameError {
    /// Whether the reader lost its place in the stream and must [`resync`] before the next frame.
    pub fn needs_resync(&self) -> bool {
        matches!(self, FrameError::BadMagic(_) | FrameError::EmptyHeader | FrameError::HeaderTooLarge(_) | FrameError::PayloadTooLarge(_))
    }
}

/// Checks the 12-byte prefix: magic and both lengths.
pub fn parse_prefix(bytes: &[u8; PREFIX_LEN]) -> Result<Prefix, FrameError> {
    let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
    if magic != MAGIC {
        return Err(FrameError::BadMagic(magic));
    }
    let header_len = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    let payload_len = u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    check_lengths(header_len, payload_len)?;
    Ok(Prefix { header_len, payload_len })
}

fn check_lengths(header_len: u32, payload_len: u32) -> Result<(), FrameError> {
    if header_len == 0 {
        return Err(FrameError::EmptyHeader);
    }
    if header_len > MAX_HEADER_BYTES {
        return Err(FrameError::HeaderTooLarge(header_len));
    }
    if payload_len > MAX_PAYLOAD_BYTES {
        return Err(FrameError::PayloadTooLarge(payload_len));
    }
    Ok(())
}

/// Builds a whole frame in one buffer, so that it goes out in one `write_all` and two writers
/// sharing a lock can never interleave halves of frames.
pub fn encode(header: &[u8], payload: &[u8]) -> Result<Vec<u8>, FrameError> {
    let header_len = u32::try_from(header.len()).map_err(|_| FrameError::HeaderTooLarge(u32::MAX))?;
    let payload_len = u32::try_from(payload.len()).map_err(|_| FrameError::PayloadTooLarge(u32::MAX))?;
    check_lengths(header_len, payload_len)?;
    let mut out = Vec::with_capacity(PREFIX_LEN + header.len() + payload.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&header_len.to_be_bytes());
    out.extend_from_slice(&payload_len.to_be_bytes());
    out.extend_from_slice(header);
    out.extend_from_slice(payload);
    Ok(out)
}

/// Writes one frame and flushes it.
pub fn write_frame(w: &mut impl Write, header: &[u8], payload: &[u8]) -> Result<(), FrameError> {
    let bytes = encode(header, payload)?;
    w.write_all(&bytes)?;
    w.flush()?;
    Ok(())
}

/// Reads one frame from a stream positioned at a frame boundary.
///
/// The magic is read on its own first, so that after [`FrameError::BadMagic`] only those four
/// bytes are gone and [`resync`] can look for a frame starting inside them.
pub fn read_frame(r: &mut impl Read) -> Result<Frame, FrameError> {
    let mut magic = [0u8; 4];
    match read_full(r, &mut magic)? {
        0 => return Err(FrameError::Eof),
        4 if magic == MAGIC => {}
        // A cut-off magic is a truncated frame; anything else is garbage.
        n if n < 4 && magic[..n] == MAGIC[..n] => return Err(FrameError::Truncated),
        _ => return Err(FrameError::BadMagic(magic)),
    }
    read_after_magic(r)
}

fn read_after_magic(r: &mut impl Read) -> Result<Frame, FrameError> {
    let mut prefix = [0u8; PREFIX_LEN];
    prefix[..4].copy_from_slice(&MAGIC);
    if read_full(r, &mut prefix[4..])? < PREFIX_LEN - 4 {
        return Err(FrameError::Truncated);
    }
    let prefix = parse_prefix(&prefix)?;
    read_body(r, prefix)
}

/// Reads what follows a valid prefix.
pub fn read_body(r: &mut impl Read, prefix: Prefix) -> Result<Frame, FrameError> {
    let mut header = vec![0u8; prefix.header_len as usize];
    if read_full(r, &mut header)? < header.len() {
        return Err(FrameError::Truncated);
    }
    let mut payload = vec![0u8; prefix.payload_len as usize];
    if read_full(r, &mut payload)? < payload.len() {
        return Err(FrameError::Truncated);
    }
    Ok(Frame { header, payload })
}

/// Skips bytes until the magic has been read and returns the frame that follows it.
///
/// `window` is the last four bytes already consumed (the bad "magic" itself, say), so that a
/// frame starting one to three bytes into them is still found. A magic followed by impossible
/// lengths is an error of its own (the caller reports it and calls `resync` again), so that
/// every broken frame is answered.
pub fn resync(r: &mut impl Read, mut window: [u8; 4]) -> Result<Frame, FrameError> {
    loop {
        if window == MAGIC {
            return read_after_magic(r);
        }
        let mut byte = [0u8; 1];
        if read_full(r, &mut byte)? == 0 {
            return Err(FrameError::Eof);
        }
        window = [window[1], window[2], window[3], byte[0]];
    }
}

/// Like `read_exact`, but says how much it got before the end of the stream.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn frame(header: &str, payload: &[u8]) -> Vec<u8> {
        encode(header.as_bytes(), payload).expect("frame within limits")
    }

    #[test]
    fn round_trip() {
        let bytes = frame(r#"{"id":1}"#, &[1, 2, 3]);
        let got = read_frame(&mut Cursor::new(bytes)).expect("a frame");
        assert_eq!(got, Frame { header: br#"{"id":1}"#.to_vec(), payload: vec![1, 2, 3] });
    }

    #[test]
    fn clean_end_between_frames() {
        let mut c = Cursor::new(frame("{}", &[]));
        read_frame(&mut c).expect("first frame");
        assert!(matches!(read_frame(&mut c), Err(FrameError::Eof)));
    }

    #[test]
    fn truncated_prefix_header_and_payload() {
        let whole = frame(r#"{"id":1}"#, &[9; 16]);
        for cut in [6, PREFIX_LEN + 3, whole.len() - 1] {
            let got = read_frame(&mut Cursor::new(whole[..cut].to_vec()));
            assert!(matches!(got, Err(FrameError::Truncated)), "cut at {cut}: {got:?}");
        }
    }

    #[test]
    fn oversized_lengths_are_refused_before_allocating() {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&u32::MAX.to_be_bytes());
        bytes.extend_from_slice(&0u32.to_be_bytes());
        assert!(matches!(read_frame(&mut Cursor::new(bytes)), Err(FrameError::HeaderTooLarge(u32::MAX))));

        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&2u32.to_be_bytes());
        bytes.extend_from_slice(&(MAX_PAYLOAD_BYTES + 1).to_be_bytes());
        assert!(matches!(read_frame(&mut Cursor::new(bytes)), Err(FrameError::PayloadTooLarge(_))));

        assert!(matches!(encode(&[], &[]), Err(FrameError::EmptyHeader)));
        assert!(matches!(encode(b"{}", &vec![0; MAX_PAYLOAD_BYTES as usize + 1]), Err(FrameError::PayloadTooLarge(_))));
    }

    #[test]
    fn bad_magic_then_resync_finds_the_next_frame() {
        // Garbage whose length is not a multiple of four, so the real frame starts inside the
        // four bytes that were taken for a magic.
        let mut bytes = b"garbage!!".to_vec();
        bytes.extend(frame(r#"{"id":2}"#, &[]));
        let mut c = Cursor::new(bytes);
        let err = read_frame(&mut c).expect_err("garbage is not a frame");
        let FrameError::BadMagic(window) = err else { panic!("expected BadMagic, got {err:?}") };
        assert!(FrameError::BadMagic(window).needs_resync());
        let got = resync(&mut c, window).expect("the frame after the garbage");
        assert_eq!(got.header, br#"{"id":2}"#);
    }

    #[test]
    fn resync_overlapping_the_bad_window() {
        // Two bytes of garbage: the magic starts at the third byte of the bad window.
        let mut bytes = b"xy".to_vec();
        bytes.extend(frame(r#"{"id":3}"#, &[]));
        let mut c = Cursor::new(bytes);
        let Err(FrameError::BadMagic(window)) = read_frame(&mut c) else { panic!("expected bad magic") };
        assert_eq!(resync(&mut c, window).expect("frame").header, br#"{"id":3}"#);
    }

    #[test]
    fn garbage_then_a_magic_with_broken_lengths_then_a_frame() {
        let mut bytes = b"junk".to_vec();
        bytes.extend_from_slice(&MAGIC);
        bytes.extend_from_slice(&[0xff; 8]);
        bytes.extend(frame(r#"{"id":4}"#, &[]));
        let mut c = Cursor::new(bytes);
        let Err(FrameError::BadMagic(window)) = read_frame(&mut c) else { panic!("expected bad magic") };
        let err = resync(&mut c, window).expect_err("the lengths are impossible");
        assert!(matches!(err, FrameError::HeaderTooLarge(_)) && err.needs_resync(), "{err:?}");
        assert_eq!(resync(&mut c, [0; 4]).expect("frame").header, br#"{"id":4}"#);
    }

    #[test]
    fn resync_at_end_of_stream() {
        assert!(matches!(resync(&mut Cursor::new(b"no frame here".to_vec()), [0; 4]), Err(FrameError::Eof)));
    }

    #[test]
    fn short_garbage_is_bad_magic_not_truncation() {
        assert!(matches!(read_frame(&mut Cursor::new(b"hi".to_vec())), Err(FrameError::BadMagic(_))));
    }
}
