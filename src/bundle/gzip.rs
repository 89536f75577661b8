//! gzip for the archive stream: one member on the writing thread, or 1 MiB chunks compressed on
//! worker threads into concatenated members (a valid gzip stream, RFC 1952 §2.2).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use flate2::Compression;
use flate2::write::GzEncoder;

use super::BundleOptions;

/// Input bytes per gzip member when compressing in parallel. At 1 MiB the dictionary reset at
/// each member boundary costs well under 0.1% of size.
const CHUNK: usize = 1024 * 1024;

/// gzip in one member on this thread, or parallel members on worker threads.
pub(crate) enum Compressor<W: Write> {
    Single(GzEncoder<W>),
    Parallel(ParallelGz<W>),
}

impl<W: Write + Send + 'static> Compressor<W> {
    /// One member on this thread for `threads <= 1`, else parallel members.
    pub(crate) fn new(inner: W, opts: &BundleOptions) -> Self {
        let level = Compression::new(opts.compression_level);
        if opts.threads <= 1 {
            Compressor::Single(GzEncoder::new(inner, level))
        } else {
            Compressor::Parallel(ParallelGz::new(inner, level, opts.threads))
        }
    }
}

impl<W: Write> Compressor<W> {
    /// Completes the gzip stream and returns the inner writer (flushed).
    pub(crate) fn finish(self) -> io::Result<W> {
        let mut w = match self {
            Compressor::Single(gz) => gz.finish()?,
            Compressor::Parallel(p) => p.finish()?,
        };
        w.flush()?;
        Ok(w)
    }
}

impl<W: Write> Write for Compressor<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Compressor::Single(gz) => gz.write(buf),
            Compressor::Parallel(p) => p.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Compressor::Single(gz) => gz.flush(),
            Compressor::Parallel(p) => p.flush(),
        }
    }
}

/// A job for a compression worker: sequence number and input chunk.
type Job = (u64, Vec<u8>);
/// A worker's answer: sequence number and one complete gzip member.
type Done = (u64, io::Result<Vec<u8>>);

/// Compresses fixed-size chunks on worker threads into concatenated gzip members, written in
/// order. Memory is bounded: at most `2 * threads` chunks are in flight.
pub(crate) struct ParallelGz<W: Write> {
    inner: Option<W>,
    buf: Vec<u8>,
    next_seq: u64,
    write_seq: u64,
    pending: BTreeMap<u64, Vec<u8>>,
    jobs: Option<SyncSender<Job>>,
    results: Receiver<Done>,
    workers: Vec<JoinHandle<()>>,
    max_in_flight: u64,
}

impl<W: Write> ParallelGz<W> {
    fn new(inner: W, level: Compression, threads: usize) -> Self {
        let (job_tx, job_rx) = mpsc::sync_channel::<Job>(threads);
        let job_rx = Arc::new(Mutex::new(job_rx));
        // Unbounded: a worker never blocks on a result, so dropping us can always end them.
        let (done_tx, done_rx) = mpsc::channel::<Done>();
        let workers = (0..threads)
            .map(|_| {
                let rx = Arc::clone(&job_rx);
                let tx = done_tx.clone();
                std::thread::spawn(move || {
                    loop {
                        // Hold the lock only to take a job, not while compressing.
                        let job = match rx.lock() {
                            Ok(guard) => guard.recv(),
                            Err(_) => return,
                        };
                        let Ok((seq, data)) = job else { return };
                        let mut gz = GzEncoder::new(Vec::with_capacity(data.len() / 3 + 64), level);
                        let member = gz.write_all(&data).and_then(|()| gz.finish());
                        if tx.send((seq, member)).is_err() {
                            return;
                        }
                    }
                })
            })
            .collect();
        Self {
            inner: Some(inner),
            buf: Vec::with_capacity(CHUNK),
            next_seq: 0,
            write_seq: 0,
            pending: BTreeMap::new(),
            jobs: Some(job_tx),
            results: done_rx,
            workers,
            max_in_flight: 2 * threads as u64,
        }
    }

    /// Hands the buffered chunk to the workers, first draining results if too many are in flight.
    fn dispatch(&mut self) -> io::Result<()> {
        while self.next_seq - self.write_seq >= self.max_in_flight {
            self.collect_one()?;
        }
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        let tx = self
            .jobs
            .as_ref()
            .ok_or_else(|| io::Error::other("compressor already finished"))?;
        tx.send((self.next_seq, data))
            .map_err(|_| io::Error::other("compression worker stopped"))?;
        self.next_seq += 1;
        Ok(())
    }

    /// Waits for one result and writes out every member that is now next in order.
    fn collect_one(&mut self) -> io::Result<()> {
        let (seq, member) = self
            .results
            .recv()
            .map_err(|_| io::Error::other("compression worker stopped"))?;
        self.pending.insert(seq, member?);
        let inner = self
            .inner
            .as_mut()
            .ok_or_else(|| io::Error::other("compressor already finished"))?;
        while let Some(member) = self.pending.remove(&self.write_seq) {
            inner.write_all(&member)?;
            self.write_seq += 1;
        }
        Ok(())
    }

    fn finish(mut self) -> io::Result<W> {
        // An empty input still needs one (empty) member to be a gzip stream.
        if !self.buf.is_empty() || self.next_seq == 0 {
            self.dispatch()?;
        }
        self.jobs = None;
        while self.write_seq < self.next_seq {
            self.collect_one()?;
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        self.inner
            .take()
            .ok_or_else(|| io::Error::other("compressor already finished"))
    }
}

impl<W: Write> Write for ParallelGz<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = room.min(buf.len());
        self.buf.extend_from_slice(&buf[..n]);
        if self.buf.len() >= CHUNK {
            self.dispatch()?;
        }
        Ok(n)
    }

    /// Members are only complete once compressed; flushing the inner writer is all we can do.
    fn flush(&mut self) -> io::Result<()> {
        match self.inner.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

impl<W: Write> Drop for ParallelGz<W> {
    /// Ends the workers: closing the job channel makes each finish its chunk and exit.
    fn drop(&mut self) {
        self.jobs = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::{GzDecoder, MultiGzDecoder};
    use std::io::Read;

    /// Deterministic, mildly compressible bytes.
    fn sample(len: usize) -> Vec<u8> {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        (0..len)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if i % 3 == 0 {
                    b'a' + (x % 26) as u8
                } else {
                    b"log line "[i % 9]
                }
            })
            .collect()
    }

    fn decode_all(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        MultiGzDecoder::new(bytes).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn parallel_members_concatenate_to_the_input() {
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK + 123] {
            let data = sample(len);
            let mut p = ParallelGz::new(Vec::new(), Compression::new(6), 2);
            // Odd write sizes cross chunk boundaries.
            for part in data.chunks(77_777) {
                p.write_all(part).unwrap();
            }
            let out = p.finish().unwrap();
            assert_eq!(decode_all(&out), data, "len {len}");
            // An empty input is still a valid (single, empty) gzip member.
            if len == 0 {
                let mut s = Vec::new();
                GzDecoder::new(&out[..]).read_to_end(&mut s).unwrap();
                assert!(s.is_empty());
            }
        }
    }

    #[test]
    fn parallel_error_from_the_sink_is_reported_and_workers_end() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::from_raw_os_error(libc::ENOSPC))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut p = ParallelGz::new(Full, Compression::new(1), 2);
        let data = sample(8 * CHUNK);
        let res = p.write_all(&data).and_then(|()| p.finish().map(|_| ()));
        let err = res.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOSPC));
    }
}
