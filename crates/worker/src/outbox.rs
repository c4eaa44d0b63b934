//! The outbox: every task event is appended to a segment file under `data_dir/outbox/` before
//! it is sent, and an acknowledgement record follows once a master took it. Whatever is not
//! acknowledged when the worker stops (or dies) is read back by its next life and sent again.
//!
//! A segment (`<generation>.seg`) is a sequence of records:
//!
//! ```text
//! kind: u8 | payload length: u32 LE | CRC-32C of kind, length and payload: u32 LE | payload
//! EVENT payload: sequence number u64 LE | target length u16 LE | target (host:port) | TaskEvent (protobuf)
//! ACK payload:   (first u64 LE, last u64 LE)*  inclusive ranges of sequence numbers done with
//! ```
//!
//! A record that is cut short or fails its checksum ends the segment: a crash tore it, and
//! nothing after it can be trusted. Opening never appends to an old segment: it copies the live
//! events into a new one, so a torn tail is left behind with the old file.
//!
//! There is no fsync per record: a write reaches the page cache, which outlives the process,
//! and a background sync each second bounds what a machine crash can lose. When the active
//! segment outgrows both [`SEGMENT_BYTES`] and twice its live events, the live events move to
//! a new segment (synced before the old one is deleted), so the outbox stays as small as what
//! is pending.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use baton_proto::TaskEvent;
use nix::fcntl::{Flock, FlockArg};
use prost::Message;

use crate::error::OpenError;

/// Size past which the active segment is compacted (when most of it is acknowledged).
pub(crate) const SEGMENT_BYTES: u64 = 4 * 1024 * 1024;

const KIND_EVENT: u8 = 0xE7;
const KIND_ACK: u8 = 0xA5;
const HEADER: usize = 9;
/// No legitimate record comes near this; a larger length is a torn or corrupt header.
const MAX_PAYLOAD: usize = 64 * 1024 * 1024;
const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

/// An event read back from disk, still waiting for its acknowledgement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Loaded {
    pub seq: u64,
    /// The master it was addressed to (from its dispatch).
    pub target: String,
    pub event: TaskEvent,
    /// Bytes its record takes on disk.
    pub bytes: u64,
}

/// An event still pending, as the outbox copies it into a new segment.
pub(crate) struct Live<'a> {
    pub seq: u64,
    pub target: &'a str,
    pub event: &'a TaskEvent,
}

/// The open outbox of one worker; holds an exclusive lock on its directory.
pub(crate) struct Outbox {
    dir: PathBuf,
    file: Arc<File>,
    generation: u64,
    /// Bytes in the active segment.
    size: u64,
    /// Bytes of the records of pending events (across segments).
    live_bytes: u64,
    next_seq: u64,
    segment_bytes: u64,
    /// Written since the last sync.
    dirty: bool,
    /// A write failed half way and could not be undone: nothing more goes into this segment;
    /// the owner compacts into a new one.
    broken: bool,
    buf: Vec<u8>,
    _lock: Flock<File>,
}

impl Outbox {
    /// Opens (creating) the outbox in `dir`: locks it, reads back the pending events in
    /// sequence order, and starts a new segment holding just those.
    pub(crate) fn open(dir: &Path, segment_bytes: u64) -> Result<(Outbox, Vec<Loaded>), OpenError> {
        let io_err = |source| OpenError::Io {
            path: dir.to_path_buf(),
            source,
        };
        crate::create_private_dir(dir).map_err(io_err)?;
        let lock_file = File::create(dir.join("LOCK")).map_err(io_err)?;
        let lock =
            Flock::lock(lock_file, FlockArg::LockExclusiveNonblock).map_err(|(_, errno)| {
                if errno == nix::errno::Errno::EWOULDBLOCK {
                    OpenError::Locked {
                        path: dir.to_path_buf(),
                    }
                } else {
                    io_err(errno.into())
                }
            })?;

        let old = segments(dir).map_err(io_err)?;
        let mut events = BTreeMap::new();
        let mut acked = Vec::new();
        let mut max_seq = 0;
        for (_, path) in &old {
            let data = std::fs::read(path).map_err(io_err)?;
            let parsed = parse(&data);
            if let Some(at) = parsed.torn_at {
                tracing::warn!(
                    segment = %path.display(),
                    offset = at,
                    skipped = data.len() - at,
                    "outbox segment ends in a torn or corrupt record; skipped from there"
                );
            }
            for loaded in parsed.events {
                max_seq = max_seq.max(loaded.seq);
                events.entry(loaded.seq).or_insert(loaded);
            }
            acked.extend(parsed.acks);
        }
        for (first, last) in acked {
            max_seq = max_seq.max(last);
            let done: Vec<u64> = events.range(first..=last).map(|(seq, _)| *seq).collect();
            for seq in done {
                events.remove(&seq);
            }
        }
        let loaded: Vec<Loaded> = events.into_values().collect();

        let generation = old.last().map(|(g, _)| g + 1).unwrap_or(1);
        let (file, size) = write_segment(
            dir,
            generation,
            loaded.iter().map(|l| Live {
                seq: l.seq,
                target: &l.target,
                event: &l.event,
            }),
        )
        .map_err(io_err)?;
        for (_, path) in &old {
            std::fs::remove_file(path).map_err(io_err)?;
        }
        if !loaded.is_empty() {
            tracing::info!(
                events = loaded.len(),
                "outbox: events from a previous life are pending"
            );
        }
        Ok((
            Outbox {
                dir: dir.to_path_buf(),
                file: Arc::new(file),
                generation,
                size,
                live_bytes: loaded.iter().map(|l| l.bytes).sum(),
                next_seq: max_seq + 1,
                segment_bytes,
                dirty: false,
                broken: false,
                buf: Vec::with_capacity(512),
                _lock: lock,
            },
            loaded,
        ))
    }

    /// Appends `event` for `target` and returns its sequence number and record size; the
    /// number is assigned even when the write fails, so the event can still be sent.
    pub(crate) fn append(&mut self, target: &str, event: &TaskEvent) -> (u64, io::Result<u64>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.buf.clear();
        encode_event(&mut self.buf, seq, target, event);
        let bytes = self.buf.len() as u64;
        let written = self.write_buf().map(|()| bytes);
        if written.is_ok() {
            self.live_bytes += bytes;
        }
        (seq, written)
    }

    /// Records that the events `seqs` (ascending) are done with, acknowledged or dropped;
    /// `bytes` is what their records took.
    pub(crate) fn ack(&mut self, seqs: &[u64], bytes: u64) -> io::Result<()> {
        if seqs.is_empty() {
            return Ok(());
        }
        self.live_bytes = self.live_bytes.saturating_sub(bytes);
        self.buf.clear();
        encode_ack(&mut self.buf, seqs);
        self.write_buf()
    }

    /// True when the active segment is mostly acknowledged and worth compacting.
    pub(crate) fn wants_compaction(&self) -> bool {
        self.broken || (self.size > self.segment_bytes && self.size > 2 * self.live_bytes)
    }

    /// Moves the pending events `live` into a new segment and deletes the old one.
    pub(crate) fn compact<'a>(&mut self, live: impl Iterator<Item = Live<'a>>) -> io::Result<()> {
        let generation = self.generation + 1;
        let (file, size) = write_segment(&self.dir, generation, live)?;
        let old = segment_path(&self.dir, self.generation);
        self.file = Arc::new(file);
        self.generation = generation;
        self.live_bytes = size;
        self.size = size;
        self.broken = false;
        self.dirty = false;
        std::fs::remove_file(&old)
    }

    /// The active segment if something was written since the last call, for a background sync.
    pub(crate) fn take_dirty(&mut self) -> Option<Arc<File>> {
        std::mem::take(&mut self.dirty).then(|| self.file.clone())
    }

    fn write_buf(&mut self) -> io::Result<()> {
        if self.broken {
            return Err(io::Error::other(
                "the outbox segment is unusable until it is compacted",
            ));
        }
        match (&*self.file).write_all(&self.buf) {
            Ok(()) => {
                self.size += self.buf.len() as u64;
                self.dirty = true;
                Ok(())
            }
            Err(e) => {
                // A partial record would hide everything after it: cut it off, or move on.
                if self.file.set_len(self.size).is_err() {
                    self.broken = true;
                }
                Err(e)
            }
        }
    }
}

/// The segments in `dir`, oldest first.
fn segments(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let generation = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".seg"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(generation) = generation {
            found.push((generation, path));
        }
    }
    found.sort();
    Ok(found)
}

fn segment_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("{generation:020}.seg"))
}

/// Writes a new segment holding `live`, durably (file and directory synced), and returns it
/// open for appending, with its size. Rare (start and compaction), so the syncs are affordable,
/// and they make deleting the old segment afterwards safe.
fn write_segment<'a>(
    dir: &Path,
    generation: u64,
    live: impl Iterator<Item = Live<'a>>,
) -> io::Result<(File, u64)> {
    let mut buf = Vec::new();
    for l in live {
        encode_event(&mut buf, l.seq, l.target, l.event);
    }
    let path = segment_path(dir, generation);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    // Append mode: after a failed write is cut off, the next one still lands at the end.
    let file = std::fs::OpenOptions::new()
        .create_new(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    (&file).write_all(&buf)?;
    file.sync_data()?;
    File::open(dir)?.sync_all()?;
    Ok((file, buf.len() as u64))
}

fn push_record(buf: &mut Vec<u8>, kind: u8, payload: impl FnOnce(&mut Vec<u8>)) {
    let start = buf.len();
    buf.extend_from_slice(&[kind, 0, 0, 0, 0, 0, 0, 0, 0]);
    payload(buf);
    let len = (buf.len() - start - HEADER) as u32;
    buf[start + 1..start + 5].copy_from_slice(&len.to_le_bytes());
    let mut digest = CRC.digest();
    digest.update(&buf[start..start + 5]);
    digest.update(&buf[start + HEADER..]);
    buf[start + 5..start + HEADER].copy_from_slice(&digest.finalize().to_le_bytes());
}

fn encode_event(buf: &mut Vec<u8>, seq: u64, target: &str, event: &TaskEvent) {
    // Targets are host:port; a longer one cannot come from a valid dispatch.
    let target = &target.as_bytes()[..target.len().min(u16::MAX as usize)];
    push_record(buf, KIND_EVENT, |b| {
        b.extend_from_slice(&seq.to_le_bytes());
        b.extend_from_slice(&(target.len() as u16).to_le_bytes());
        b.extend_from_slice(target);
        event.encode(b).expect("a Vec grows as needed");
    });
}

/// Encodes ascending `seqs` as inclusive ranges.
fn encode_ack(buf: &mut Vec<u8>, seqs: &[u64]) {
    push_record(buf, KIND_ACK, |b| {
        let mut i = 0;
        while i < seqs.len() {
            let first = seqs[i];
            let mut last = first;
            while i + 1 < seqs.len() && seqs[i + 1] == last + 1 {
                i += 1;
                last = seqs[i];
            }
            b.extend_from_slice(&first.to_le_bytes());
            b.extend_from_slice(&last.to_le_bytes());
            i += 1;
        }
    });
}

/// What one segment holds.
#[derive(Default)]
struct Parsed {
    events: Vec<Loaded>,
    acks: Vec<(u64, u64)>,
    /// Offset of the first record that could not be read, if any.
    torn_at: Option<usize>,
}

fn parse(data: &[u8]) -> Parsed {
    let mut parsed = Parsed::default();
    let mut at = 0;
    while at < data.len() {
        match record(&data[at..]) {
            Some((kind, payload)) => {
                let bytes = (HEADER + payload.len()) as u64;
                if !decode(kind, payload, bytes, &mut parsed) {
                    // The checksum matched, so this is no tear: skip just this record.
                    tracing::warn!(offset = at, "outbox record of unknown shape skipped");
                }
                at += HEADER + payload.len();
            }
            None => {
                parsed.torn_at = Some(at);
                break;
            }
        }
    }
    parsed
}

/// The kind and payload of the record at the start of `data`, if it is whole and intact.
fn record(data: &[u8]) -> Option<(u8, &[u8])> {
    let header = data.get(..HEADER)?;
    let kind = header[0];
    let len = u32::from_le_bytes(header[1..5].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(header[5..9].try_into().ok()?);
    if !matches!(kind, KIND_EVENT | KIND_ACK) || len > MAX_PAYLOAD {
        return None;
    }
    let payload = data.get(HEADER..HEADER + len)?;
    let mut digest = CRC.digest();
    digest.update(&header[..5]);
    digest.update(payload);
    (digest.finalize() == crc).then_some((kind, payload))
}

fn decode(kind: u8, payload: &[u8], bytes: u64, parsed: &mut Parsed) -> bool {
    let u64_at = |p: &[u8], i: usize| {
        p.get(i..i + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
    };
    match kind {
        KIND_EVENT => {
            let Some(seq) = u64_at(payload, 0) else {
                return false;
            };
            let Some(len) = payload
                .get(8..10)
                .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
            else {
                return false;
            };
            let Some(target) = payload
                .get(10..10 + len)
                .and_then(|t| std::str::from_utf8(t).ok())
            else {
                return false;
            };
            let Ok(event) = TaskEvent::decode(&payload[10 + len..]) else {
                return false;
            };
            parsed.events.push(Loaded {
                seq,
                target: target.to_string(),
                event,
                bytes,
            });
            true
        }
        _ => {
            let pairs = payload.chunks_exact(16);
            if !pairs.remainder().is_empty() {
                return false;
            }
            for pair in pairs {
                let (first, last) = (u64_at(pair, 0).unwrap(), u64_at(pair, 8).unwrap());
                parsed.acks.push((first, last));
            }
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use baton_proto::{task_event, AttemptId, Started};

    use super::*;

    fn event(tid: i64) -> TaskEvent {
        TaskEvent {
            id: Some(AttemptId {
                workflow_instance_id: 7,
                task_instance_id: tid,
                attempt: 1,
                epoch: 1,
            }),
            worker: "w".into(),
            event: Some(task_event::Event::Started(Started {
                at_us: 1_700_000_000_000_000 + tid,
                pid: 4242,
            })),
        }
    }

    fn tids(loaded: &[Loaded]) -> Vec<i64> {
        loaded
            .iter()
            .map(|l| l.event.id.unwrap().task_instance_id)
            .collect()
    }

    fn only_segment(dir: &Path) -> PathBuf {
        let segs = segments(dir).unwrap();
        assert_eq!(segs.len(), 1, "{segs:?}");
        segs[0].1.clone()
    }

    #[test]
    fn pending_events_come_back_in_order_and_acknowledged_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let (mut outbox, loaded) = Outbox::open(dir.path(), SEGMENT_BYTES).unwrap();
        assert!(loaded.is_empty());
        let mut seqs = Vec::new();
        for tid in 1..=5 {
            let (seq, written) =
                outbox.append(if tid % 2 == 0 { "a:1" } else { "b:2" }, &event(tid));
            written.unwrap();
            seqs.push(seq);
        }
        outbox.ack(&[seqs[0], seqs[2]], 0).unwrap();
        drop(outbox);

        let (mut outbox, loaded) = Outbox::open(dir.path(), SEGMENT_BYTES).unwrap();
        assert_eq!(tids(&loaded), [2, 4, 5]);
        assert_eq!(loaded[0].target, "a:1");
        assert_eq!(loaded[2].target, "b:2");
        assert_eq!(loaded[0].event, event(2));
        // Numbers go on from where the previous life stopped.
        let (seq, _) = outbox.append("a:1", &event(6));
        assert!(seq > seqs[4]);
        outbox.ack(&[seqs[1], seqs[3], seqs[4], seq], 0).unwrap();
        drop(outbox);
        let (_, loaded) = Outbox::open(dir.path(), SEGMENT_BYTES).unwrap();
        assert!(loaded.is_empty());
    }

    #[test]
    fn a_second_open_of_the_same_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (_outbox, _) = Outbox::open(dir.path(), SEGMENT_BYTES).unwrap();
        assert!(matches!(
            Outbox::open(dir.path(), SEGMENT_BYTES),
            Err(OpenError::Locked { .. })
        ));
    }

    #[test]
    fn a_torn_last_record_is_skipped_wherever_it_was_cut() {
        let dir = tempfile::tempdir().unwrap();
        let (mut outbox, _) = Outbox::open(dir.path(), SEGMENT_BYTES).unwrap();
        for tid in 1..=3 {
            outbox.append("m:1", &event(tid)).1.unwrap();
        }
        let whole = std::fs::read(only_segment(dir.path())).unwrap();
        let last_len = whole.len() / 3;
        drop(outbox);
        let base = whole.len() - last_len;
        for cut in base..whole.len() {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(segment_path(dir.path(), 1), &whole[..cut]).unwrap();
            let (_, loaded) = Outbox::open(dir.path(), SEGMENT_BYTES).unwrap();
            assert_eq!(tids(&loaded), [1, 2], "cut at {cut}");
        }
        // Zeros after the last record (a machine crash can leave them) and a flipped bit.
        let dir = tempfile::tempdir().unwrap();
        let mut zeros = whole.clone();
        zeros.extend_from_slice(&[0; 100]);
        std::fs::write(segment_path(dir.path(), 1), &zeros).unwrap();
        assert_eq!(
            tids(&Outbox::open(dir.path(), SEGMENT_BYTES).unwrap().1),
            [1, 2, 3]
        );
        let dir = tempfile::tempdir().unwrap();
        let mut flipped = whole.clone();
        flipped[whole.len() - 3] ^= 0x10;
        std::fs::write(segment_path(dir.path(), 1), &flipped).unwrap();
        let (mut outbox, loaded) = Outbox::open(dir.path(), SEGMENT_BYTES).unwrap();
        assert_eq!(tids(&loaded), [1, 2]);
        // The worker goes on in a fresh segment, readable to the end.
        outbox.append("m:1", &event(4)).1.unwrap();
        drop(outbox);
        assert_eq!(
            tids(&Outbox::open(dir.path(), SEGMENT_BYTES).unwrap().1),
            [1, 2, 4]
        );
    }

    #[test]
    fn a_fully_acknowledged_segment_is_compacted_away() {
        let dir = tempfile::tempdir().unwrap();
        let (mut outbox, _) = Outbox::open(dir.path(), 4096).unwrap();
        let mut compactions = 0;
        let mut pending = Vec::new();
        for tid in 0..2000 {
            let (seq, written) = outbox.append("m:1", &event(tid));
            let bytes = written.unwrap();
            // One event in ten stays pending for a while.
            if tid % 10 == 0 {
                pending.push((seq, tid, bytes));
            } else {
                outbox.ack(&[seq], bytes).unwrap();
            }
            if pending.len() > 3 {
                let (seq, _, bytes) = pending.remove(0);
                outbox.ack(&[seq], bytes).unwrap();
            }
            if outbox.wants_compaction() {
                let live: Vec<(u64, TaskEvent)> =
                    pending.iter().map(|(s, t, _)| (*s, event(*t))).collect();
                outbox
                    .compact(live.iter().map(|(seq, event)| Live {
                        seq: *seq,
                        target: "m:1",
                        event,
                    }))
                    .unwrap();
                compactions += 1;
            }
            let size = std::fs::metadata(only_segment(dir.path())).unwrap().len();
            assert!(size < 3 * 4096, "the segment grew to {size} bytes");
        }
        assert!(compactions > 10, "{compactions} compactions");
        drop(outbox);
        let (_, loaded) = Outbox::open(dir.path(), 4096).unwrap();
        let expected: Vec<i64> = pending.iter().map(|(_, t, _)| *t).collect();
        assert_eq!(tids(&loaded), expected);
    }

    #[test]
    fn a_crash_during_compaction_loses_nothing() {
        // Both the old segment and the new copy are there: each event comes back once.
        let dir = tempfile::tempdir().unwrap();
        let (mut outbox, _) = Outbox::open(dir.path(), SEGMENT_BYTES).unwrap();
        let (a, _) = outbox.append("m:1", &event(1));
        let (b, _) = outbox.append("m:1", &event(2));
        outbox.ack(&[a], 0).unwrap();
        let old = std::fs::read(only_segment(dir.path())).unwrap();
        let ev = event(2);
        outbox
            .compact(std::iter::once(Live {
                seq: b,
                target: "m:1",
                event: &ev,
            }))
            .unwrap();
        drop(outbox);
        std::fs::write(segment_path(dir.path(), 1), old).unwrap();
        let (_, loaded) = Outbox::open(dir.path(), SEGMENT_BYTES).unwrap();
        assert_eq!(tids(&loaded), [2]);
    }
}
