//! `GET /task-instances/{id}/log`: a byte range of one attempt's log, read from the worker
//! that holds it (or, for an ended attempt whose worker is gone or no longer has it, from the
//! log archive); as JSON text cut at a character boundary, or as the raw bytes.
//! `GET /task-instances/{id}/log/file`: the whole log as a download, streamed piece by piece.

use super::{Path, Query};
use crate::{ApiError, ApiState};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use baton_api_model::{headers, ErrorBody, LogChunk, LogFileQuery, LogQuery};
use baton_core::{Attempt, AttemptKey, TaskInstanceId, WorkflowInstanceId};
use baton_proto::ReadLogReply;
use baton_store::TaskInstanceRecord;

/// The media type of the raw form.
const OCTET_STREAM: &str = "application/octet-stream";

/// A read piece of a log, before it is put in the asked form.
struct Piece {
    attempt: i64,
    bytes: Vec<u8>,
    /// The byte `bytes` starts at.
    offset: u64,
    /// The log's length when read.
    size: u64,
    next_offset: u64,
    complete: bool,
    task: TaskInstanceRecord,
}

/// `GET /task-instances/{id}/log`.
#[utoipa::path(get, path = "/task-instances/{id}/log", tag = "tasks",
    params(("id" = i64, Path, description = "The task instance"), LogQuery),
    responses(
        (status = 200, description = "A piece of the log", content(
            (LogChunk = "application/json"),
            (Vec<u8> = "application/octet-stream"))),
        (status = 404, description = "No such task instance or attempt", body = ErrorBody),
        (status = 503, description = "The worker holding the log cannot be reached (and the log archive, if any, does not have it or cannot be read)", body = ErrorBody)))]
pub(crate) async fn read_log(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
    Query(q): Query<LogQuery>,
    request: HeaderMap,
) -> Result<Response, ApiError> {
    let piece = read(&state, TaskInstanceId(id), &q).await?;
    let raw = request
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains(OCTET_STREAM));
    Ok(if raw {
        raw_answer(piece)
    } else {
        json_answer(id, piece)
    })
}

/// Where a read starts: a byte from the start, or a count of bytes back from the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadFrom {
    Start(u64),
    End(u64),
}

impl ReadFrom {
    /// `?offset=`: negative counts back from the end.
    fn query(offset: Option<i64>) -> ReadFrom {
        match offset.unwrap_or(0) {
            n if n < 0 => ReadFrom::End(n.unsigned_abs()),
            n => ReadFrom::Start(n.unsigned_abs()),
        }
    }
}

/// The bytes one read asks for when the query says nothing, and the most it may ask for.
const DEFAULT_LIMIT: u32 = 256 << 10;
const MAX_LIMIT: u32 = 1 << 20;

/// The task instance and the attempt of it that `attempt` names (default the current one).
async fn task_attempt(
    state: &ApiState,
    tid: TaskInstanceId,
    attempt: Option<i64>,
) -> Result<(TaskInstanceRecord, i64), ApiError> {
    let task = state
        .store
        .task_instance(tid)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("task instance {tid} not found")))?;
    let attempt = attempt.unwrap_or(task.attempt);
    if attempt < 1 || attempt > task.attempt {
        return Err(ApiError::NotFound(format!(
            "task instance {tid} has no attempt {attempt} ({})",
            attempts_in_words(task.attempt)
        )));
    }
    Ok((task, attempt))
}

async fn read(state: &ApiState, tid: TaskInstanceId, q: &LogQuery) -> Result<Piece, ApiError> {
    let (task, attempt) = task_attempt(state, tid, q.attempt).await?;
    let worker = worker_of(state, &task, attempt).await?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    read_piece(
        state,
        task,
        attempt,
        worker,
        ReadFrom::query(q.offset),
        limit,
    )
    .await
}

/// Reads one piece of `attempt` of `task` from `worker` (none: the attempt ran nowhere).
async fn read_piece(
    state: &ApiState,
    task: TaskInstanceRecord,
    attempt: i64,
    worker: Option<String>,
    from: ReadFrom,
    limit: u32,
) -> Result<Piece, ApiError> {
    let ended = attempt < task.attempt || task.state.is_final() || !task.state.is_active();
    let mut piece = Piece {
        attempt,
        bytes: Vec::new(),
        offset: 0,
        size: 0,
        next_offset: 0,
        complete: ended && worker.is_none(),
        task,
    };
    match worker {
        Some(worker) => {
            let attempt_no = u32::try_from(attempt).map_err(|_| {
                ApiError::NotFound(format!(
                    "task instance {} has no attempt {attempt}",
                    piece.task.id
                ))
            })?;
            let (offset, from_end) = match from {
                ReadFrom::Start(n) => (n, false),
                ReadFrom::End(n) => (n, true),
            };
            let at = Source {
                worker: &worker,
                wfi: piece.task.workflow_instance_id,
                key: AttemptKey::new(piece.task.id, Attempt(attempt_no)),
                ended,
            };
            let reply = worker_or_archive(state, at, offset, limit, from_end).await?;
            piece.bytes = reply.data;
            piece.offset = reply.offset;
            piece.size = reply.size;
            piece.next_offset = reply.next_offset;
            piece.complete = if reply.found { reply.complete } else { ended };
        }
        None => message_log(&mut piece, ended, from),
    }
    Ok(piece)
}

/// Where one attempt's log may be read.
struct Source<'a> {
    worker: &'a str,
    wfi: WorkflowInstanceId,
    key: AttemptKey,
    /// The attempt ended: its log, if archived, is in the archive whole.
    ended: bool,
}

/// A piece of the log from the worker that ran the attempt; for an ended attempt, from the
/// archive when that worker cannot be reached or no longer has it. A running attempt is read
/// from its worker only (its live tail).
async fn worker_or_archive(
    state: &ApiState,
    at: Source<'_>,
    offset: u64,
    limit: u32,
    from_end: bool,
) -> Result<ReadLogReply, ApiError> {
    let (tid, attempt) = (at.key.task_instance.0, at.key.attempt.0);
    let live = state
        .logs
        .read(at.worker, tid, attempt, offset, limit, from_end)
        .await;
    match live {
        Ok(reply) if reply.found || !at.ended => Ok(reply),
        Ok(missing) => Ok(state
            .logs
            .archived(at.wfi, at.key, offset, limit, from_end)
            .await?
            .unwrap_or(missing)),
        Err(unreachable) if at.ended && state.logs.archive.is_some() => {
            match state
                .logs
                .archived(at.wfi, at.key, offset, limit, from_end)
                .await
            {
                Ok(Some(reply)) => Ok(reply),
                Ok(None) => Err(ApiError::Unavailable(format!(
                    "{}; the log is not in the log archive (not shipped yet, or it ended before \
                     the archive was set up)",
                    unreachable
                ))),
                Err(archive) => Err(ApiError::Unavailable(format!(
                    "{}; {}",
                    unreachable, archive
                ))),
            }
        }
        Err(unreachable) => Err(unreachable),
    }
}

/// The log of an attempt that ran on no worker: logic tasks run in the master, and a
/// cancelled attempt never ran. No log file, but the task's message says what happened (as a
/// log of one line).
fn message_log(piece: &mut Piece, ended: bool, from: ReadFrom) {
    let message = match piece.task.message.as_deref() {
        Some(m) if ended && piece.attempt == piece.task.attempt => {
            format!("[baton] no log: {m}\n").into_bytes()
        }
        _ => Vec::new(),
    };
    let size = message.len() as u64;
    piece.offset = match from {
        ReadFrom::Start(n) => n.min(size),
        ReadFrom::End(n) => size.saturating_sub(n),
    };
    piece.bytes = message[piece.offset as usize..].to_vec();
    piece.size = size;
    piece.next_offset = size;
}

/// `GET /task-instances/{id}/log/file`.
#[utoipa::path(get, path = "/task-instances/{id}/log/file", tag = "tasks",
    params(("id" = i64, Path, description = "The task instance"), LogFileQuery),
    responses(
        (status = 200, description = "The whole log of the attempt as a download (of a running \
            attempt: what it has written so far)", content((Vec<u8> = "application/octet-stream"))),
        (status = 404, description = "No such task instance or attempt", body = ErrorBody),
        (status = 503, description = "The worker holding the log cannot be reached", body = ErrorBody)))]
pub(crate) async fn download_log(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
    Query(q): Query<LogFileQuery>,
) -> Result<Response, ApiError> {
    let tid = TaskInstanceId(id);
    let (task, attempt) = task_attempt(&state, tid, q.attempt).await?;
    let worker = worker_of(&state, &task, attempt).await?;
    // The first piece is read before answering, so that an unreachable worker is a 503 and
    // not a download cut short.
    let first = read_piece(
        &state,
        task,
        attempt,
        worker.clone(),
        ReadFrom::Start(0),
        MAX_LIMIT,
    )
    .await?;
    let h = file_headers(id, attempt, first.size);
    let stream = futures::stream::unfold(Some((state, first)), move |next| {
        let worker = worker.clone();
        async move {
            let (state, piece) = next?;
            if piece.bytes.is_empty() {
                return None;
            }
            let bytes = axum::body::Bytes::from(piece.bytes);
            // Up to where the log had come when the download began, no further (a running
            // attempt's log grows on).
            let more = piece.next_offset < piece.size;
            let rest = if more {
                let (task, attempt, at) = (piece.task, piece.attempt, piece.next_offset);
                match read_piece(
                    &state,
                    task,
                    attempt,
                    worker,
                    ReadFrom::Start(at),
                    MAX_LIMIT,
                )
                .await
                {
                    Ok(p) => Some((state, p)),
                    Err(e) => return Some((Err(std::io::Error::other(e.to_string())), None)),
                }
            } else {
                None
            };
            Some((Ok::<_, std::io::Error>(bytes), rest))
        }
    });
    // Fused: the compression layer polls its body again after its end.
    Ok((h, Body::from_stream(futures::StreamExt::fuse(stream))).into_response())
}

/// The headers of a log download: raw bytes, saved as `task-ID-attempt-N.log`.
fn file_headers(id: i64, attempt: i64, size: u64) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(OCTET_STREAM));
    let name = format!("attachment; filename=\"task-{id}-attempt-{attempt}.log\"");
    if let Ok(v) = HeaderValue::from_str(&name) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(headers::SIZE, HeaderValue::from(size));
    h
}

/// The worker that ran `attempt` of `task`, if any did.
async fn worker_of(
    state: &ApiState,
    task: &TaskInstanceRecord,
    attempt: i64,
) -> Result<Option<String>, ApiError> {
    if attempt == task.attempt {
        return Ok(task.worker.clone());
    }
    Ok(state
        .store
        .attempts(task.workflow_instance_id)
        .await?
        .into_iter()
        .find(|a| a.task_instance_id == task.id && a.attempt == attempt)
        .and_then(|a| a.worker))
}

/// The bytes as they are, the rest in headers.
fn raw_answer(piece: Piece) -> Response {
    let value = |s: String| HeaderValue::from_str(&s).unwrap_or(HeaderValue::from_static("-"));
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(OCTET_STREAM));
    h.insert(headers::ATTEMPT, value(piece.attempt.to_string()));
    h.insert(headers::OFFSET, value(piece.offset.to_string()));
    h.insert(headers::SIZE, value(piece.size.to_string()));
    h.insert(headers::NEXT_OFFSET, value(piece.next_offset.to_string()));
    h.insert(headers::COMPLETE, value(piece.complete.to_string()));
    h.insert(headers::STATE, value(piece.task.state.to_string()));
    (h, piece.bytes).into_response()
}

/// The text, cut before a character that the range split (the next page starts with it).
/// A read that starts inside a character (one counted from the end may) starts after it.
fn json_answer(id: i64, piece: Piece) -> Response {
    let skip = if piece.offset > 0 {
        inside_char_head(&piece.bytes)
    } else {
        0
    };
    let (text, next_offset) = whole_chars(&piece.bytes[skip..], piece.next_offset);
    let complete = piece.complete && next_offset == piece.next_offset;
    Json(LogChunk {
        task_instance_id: id,
        attempt: piece.attempt,
        offset: piece.offset + skip as u64,
        size: piece.size,
        data: text,
        next_offset,
        complete,
        state: piece.task.state,
    })
    .into_response()
}

/// `bytes` as text without a UTF-8 character cut at its end: the cut bytes are left for the
/// next read (the returned offset moves back by as many). Invalid bytes elsewhere become
/// U+FFFD.
fn whole_chars(bytes: &[u8], next_offset: u64) -> (String, u64) {
    let cut = incomplete_tail(bytes);
    let kept = &bytes[..bytes.len() - cut];
    let back = u64::try_from(cut).unwrap_or(0);
    (
        String::from_utf8_lossy(kept).into_owned(),
        next_offset.saturating_sub(back),
    )
}

/// How many bytes at the start of `bytes` are the rest of a character begun before them
/// (UTF-8 continuation bytes, at most 3).
fn inside_char_head(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .take(3)
        .take_while(|b| (0x80..0xC0).contains(*b))
        .count()
}

/// How many bytes at the end of `bytes` begin a UTF-8 character that is not complete.
fn incomplete_tail(bytes: &[u8]) -> usize {
    match std::str::from_utf8(bytes) {
        Ok(_) => 0,
        Err(e) if e.error_len().is_none() => bytes.len() - e.valid_up_to(),
        Err(_) => {
            // Invalid bytes inside; look only at the last (at most 3) bytes.
            let start = bytes.len().saturating_sub(3);
            (start..bytes.len())
                .find(|&i| {
                    let b = bytes[i];
                    b >= 0xC0
                        && matches!(std::str::from_utf8(&bytes[i..]), Err(e) if e.error_len().is_none())
                })
                .map(|i| bytes.len() - i)
                .unwrap_or(0)
        }
    }
}

/// Which attempts a task has, in words, for a user who asked for one it does not have.
fn attempts_in_words(last: i64) -> String {
    match last {
        i64::MIN..=0 => "it has not run yet".to_string(),
        1 => "it has only attempt 1".to_string(),
        n => format!("attempt must be between 1 and {n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_attempts_are_explained_in_words() {
        assert_eq!(attempts_in_words(0), "it has not run yet");
        assert_eq!(attempts_in_words(1), "it has only attempt 1");
        assert_eq!(attempts_in_words(3), "attempt must be between 1 and 3");
    }

    #[test]
    fn a_page_never_ends_inside_a_character() {
        let text = "日志".as_bytes(); // two characters of three bytes each
        for cut in 0..=text.len() {
            let (first, next) = whole_chars(&text[..cut], cut as u64);
            let (rest, end) = whole_chars(&text[next as usize..], text.len() as u64);
            assert_eq!(format!("{first}{rest}"), "日志", "cut at {cut}");
            assert_eq!(end, text.len() as u64);
        }
        let mut bad = vec![0xFF, b'a'];
        bad.extend_from_slice(&"日".as_bytes()[..2]);
        assert_eq!(whole_chars(&bad, 4), ("\u{FFFD}a".to_string(), 2));
    }

    #[test]
    fn a_page_that_starts_inside_a_character_starts_after_it() {
        let text = "a日b".as_bytes(); // 'a', three bytes, 'b'
        assert_eq!(inside_char_head(text), 0);
        assert_eq!(
            inside_char_head(&text[1..]),
            0,
            "at the character's first byte"
        );
        assert_eq!(inside_char_head(&text[2..]), 2);
        assert_eq!(inside_char_head(&text[3..]), 1);
        assert_eq!(inside_char_head(&[0x80, 0x80, 0x80, 0x80]), 3, "at most 3");
    }

    #[test]
    fn a_negative_offset_counts_from_the_end() {
        assert_eq!(ReadFrom::query(None), ReadFrom::Start(0));
        assert_eq!(ReadFrom::query(Some(7)), ReadFrom::Start(7));
        assert_eq!(ReadFrom::query(Some(-4096)), ReadFrom::End(4096));
        assert_eq!(ReadFrom::query(Some(i64::MIN)), ReadFrom::End(1 << 63));
    }
}
