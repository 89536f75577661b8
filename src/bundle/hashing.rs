//! A `Write` adapter that hashes (sha256) and counts every byte passing through it.
//!
//! It sits between the compressor and the output file, so the digest and size reported in
//! `BundleInfo` describe exactly the bytes that reached the file, without reading it back.

use std::io::{self, Write};

use sha2::{Digest, Sha256};

/// Wraps a writer and computes the sha256 and length of everything written through it.
pub struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Starts hashing writes to `inner`.
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Gives back the inner writer, the lowercase hex sha256 and the byte count.
    pub fn finish(self) -> (W, String, u64) {
        let digest = self.hasher.finalize();
        (self.inner, crate::digest::hex(&digest), self.count)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Hash only what the inner writer accepted: a short write must not hash bytes that
        // will be offered again on the next call.
        let n = self.inner.write(buf)?;
        let written = buf.get(..n).unwrap_or(buf);
        self.hasher.update(written);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that accepts at most 3 bytes per call, to exercise short writes.
    struct Trickle(Vec<u8>);
    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(3);
            self.0.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn empty_input_is_the_sha256_of_nothing() {
        let w = HashingWriter::new(Vec::new());
        let (_, hex, n) = w.finish();
        assert_eq!(
            hex,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(n, 0);
    }

    #[test]
    fn short_writes_hash_each_byte_once() {
        let mut w = HashingWriter::new(Trickle(Vec::new()));
        w.write_all(b"abc").unwrap();
        w.write_all(b"defghij").unwrap();
        let (inner, hex, n) = w.finish();
        assert_eq!(inner.0, b"abcdefghij");
        assert_eq!(n, 10);
        assert_eq!(hex, crate::digest::hex(&Sha256::digest(b"abcdefghij")));
    }
}
