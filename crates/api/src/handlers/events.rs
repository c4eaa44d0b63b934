//! `/events`: the lifecycle event log, paged (`GET /events`) or followed as Server-Sent
//! Events (`GET /events/stream`, resumable with `Last-Event-ID`).

use super::ApiResult;
use super::Query;
use crate::{convert, ApiError, ApiState};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use baton_api_model::{Cursor, ErrorBody, Event, EventList, EventQuery, PageQuery};
use baton_core::event::EventKind;
use baton_core::WorkflowInstanceId;
use baton_store::EventFilter;
use futures::Stream;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

/// How long a stream waits for a wake-up before it looks anyway.
const FALLBACK_POLL: Duration = Duration::from_secs(1);
/// Events read from the store at once.
const BATCH: u32 = 1000;
/// Batches a page scans for events that pass the filters the store does not apply.
const MAX_SCANS: usize = 10;
use crate::EVENT_STREAM_RECHECK as RECHECK_EVERY;

/// The filters, checked: an unknown kind is refused with the known ones.
#[derive(Debug, Clone)]
struct Filters {
    kind: Option<EventKind>,
    instance: Option<i64>,
    project: Option<String>,
    workflow: Option<String>,
    since: Option<i64>,
    /// Who asks: only events of projects they see pass (none without a project, for a
    /// caller who is not a global admin).
    caller: crate::access::Caller,
}

impl Filters {
    fn of(q: &EventQuery, caller: crate::access::Caller) -> Result<Filters, ApiError> {
        let kind = q
            .kind
            .as_deref()
            .filter(|k| !k.is_empty())
            .map(str::parse::<EventKind>)
            .transpose()
            .map_err(|e| ApiError::bad("bad_kind", e.to_string()))?;
        Ok(Filters {
            kind,
            instance: q.instance,
            project: q.project.clone().filter(|p| !p.is_empty()),
            workflow: q.workflow.clone().filter(|w| !w.is_empty()),
            since: q.since.map(baton_api_model::time::to_us),
            caller,
        })
    }

    /// The store's filter for one batch (kind, instance and time are applied there).
    fn store(&self, before: Option<i64>, after: Option<i64>, limit: u32) -> EventFilter {
        EventFilter {
            kind: self.kind,
            project: self.project.clone(),
            workflow: self.workflow.clone(),
            since: self.since,
            instance: self.instance.map(WorkflowInstanceId),
            before,
            after,
            limit: Some(i64::from(limit)),
        }
    }

    /// The filters the store does not apply.
    fn keeps(&self, e: &Event) -> bool {
        let same = |want: &Option<String>, got: &Option<String>| {
            want.as_ref().is_none_or(|w| got.as_ref() == Some(w))
        };
        let visible = match (self.caller.visible(), &e.project) {
            (None, _) => true,
            (Some(_), Some(p)) => self.caller.sees(p),
            (Some(_), None) => false,
        };
        visible && same(&self.project, &e.project) && same(&self.workflow, &e.workflow)
    }
}

/// Which way a page reads.
#[derive(Debug, Clone, Copy)]
enum Direction {
    /// Newest first, below an id.
    Back(Option<i64>),
    /// Oldest first, above an id.
    Forward(i64),
}

/// Up to `limit` events that pass the filters, and the id the scan stopped at (the next
/// page goes on from there) unless the log was read to its end.
async fn scan(
    state: &ApiState,
    f: &Filters,
    mut dir: Direction,
    limit: u32,
) -> Result<(Vec<Event>, Option<i64>, bool), ApiError> {
    let mut found = Vec::new();
    let mut last = None;
    for _ in 0..MAX_SCANS {
        let filter = match dir {
            Direction::Back(before) => f.store(before, None, BATCH),
            Direction::Forward(after) => f.store(None, Some(after), BATCH),
        };
        let batch = state.store.list_events(&filter).await?;
        let exhausted = batch.len() < crate::paging::page_len(BATCH);
        for record in batch {
            let id = record.id;
            let event = convert::event(record)?;
            last = Some(id);
            dir = match dir {
                Direction::Back(_) => Direction::Back(Some(id)),
                Direction::Forward(_) => Direction::Forward(id),
            };
            if f.keeps(&event) {
                found.push(event);
                if found.len() >= crate::paging::page_len(limit) {
                    return Ok((found, last, false));
                }
            }
        }
        if exhausted {
            return Ok((found, last, true));
        }
    }
    Ok((found, last, false))
}

/// `GET /events`: newest first; with `after`, oldest first from just after that id.
#[utoipa::path(get, path = "/events", tag = "events", params(EventQuery, PageQuery),
    responses((status = 200, description = "A page of events", body = EventList),
        (status = 400, description = "An unknown kind (the answer lists the known ones), a bad cursor or limit", body = ErrorBody)))]
pub(crate) async fn list_events(
    State(state): State<ApiState>,
    caller: crate::access::Caller,
    Query(q): Query<EventQuery>,
    Query(page): Query<PageQuery>,
) -> ApiResult<EventList> {
    let filters = Filters::of(&q, caller)?;
    let limit = page.limit()?;
    let dir = match (page.cursor()?, q.after) {
        (Some(Cursor::After(id)), _) | (None, Some(id)) => Direction::Forward(id),
        (Some(c), None) => Direction::Back(Some(c.id()?)),
        (Some(_), Some(_)) => {
            return Err(ApiError::bad(
                "bad_query",
                "give `cursor` or `after`, not both",
            ))
        }
        (None, None) => Direction::Back(None),
    };
    let (events, last, exhausted) = scan(&state, &filters, dir, limit).await?;
    let next_cursor = match dir {
        // Following: always where to ask again, even when nothing is new.
        Direction::Forward(after) => Some(Cursor::After(last.unwrap_or(after)).encode()),
        Direction::Back(_) if exhausted => None,
        Direction::Back(_) => last.map(|id| Cursor::Id(id).encode()),
    };
    Ok(axum::Json(EventList {
        events,
        next_cursor,
    }))
}

/// `GET /events/stream`: Server-Sent Events, one per recorded event (`id:` its id, `data:`
/// the event as JSON), from just after `Last-Event-ID` (or `?after=`), else from now on.
#[utoipa::path(get, path = "/events/stream", tag = "events", params(EventQuery,
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this event id (sent by browsers when they reconnect)")),
    responses((status = 200, description = "A stream of events, each `id: <event id>` and `data: <Event as JSON>`, with keep-alive comments", content_type = "text/event-stream", body = Event),
        (status = 400, description = "An unknown kind (the answer lists the known ones)", body = ErrorBody)))]
pub(crate) async fn stream_events(
    State(state): State<ApiState>,
    caller: crate::access::Caller,
    Query(q): Query<EventQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let filters = Filters::of(&q, caller)?;
    let resume = headers
        .get("last-event-id")
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .ok_or_else(|| {
                    ApiError::bad(
                        "bad_query",
                        "`Last-Event-ID` must be an event id (a number)",
                    )
                })
        })
        .transpose()?;
    let after = match resume.or(q.after) {
        Some(id) => id,
        None => latest_id(&state).await?,
    };
    let follow = Follow {
        state: state.clone(),
        filters,
        after,
        buffer: VecDeque::new(),
        wake: state.events.subscribe(),
        checked: tokio::time::Instant::now(),
    };
    let stream = futures::stream::unfold(follow, |mut f| async move {
        let event = f.next().await?;
        Some((Ok(event), f))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// The newest event's id (0 with none): a stream without a start point begins after it.
async fn latest_id(state: &ApiState) -> Result<i64, ApiError> {
    let newest = state
        .store
        .list_events(&EventFilter {
            limit: Some(1),
            ..Default::default()
        })
        .await?;
    Ok(newest.first().map(|e| e.id).unwrap_or(0))
}

/// A stream's position in the log.
struct Follow {
    state: ApiState,
    filters: Filters,
    after: i64,
    buffer: VecDeque<Event>,
    wake: tokio::sync::watch::Receiver<u64>,
    /// When the credential was last checked.
    checked: tokio::time::Instant,
}

impl Follow {
    /// The next event to send: from the buffer, else read after the last id, else wait for
    /// a wake-up (or the fallback poll) and read again. None once the caller's credential
    /// no longer holds: the stream ends.
    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if self.checked.elapsed() >= RECHECK_EVERY {
                self.recheck().await?;
            }
            if let Some(e) = self.buffer.pop_front() {
                return Some(sse(&e));
            }
            self.wake.borrow_and_update();
            match scan(
                &self.state,
                &self.filters,
                Direction::Forward(self.after),
                BATCH,
            )
            .await
            {
                Ok((events, last, _)) => {
                    self.after = last.unwrap_or(self.after);
                    self.buffer.extend(events);
                    if !self.buffer.is_empty() {
                        continue;
                    }
                }
                Err(e) => tracing::warn!("event stream: {e}"),
            }
            let _ = tokio::time::timeout(FALLBACK_POLL, self.wake.changed()).await;
        }
    }

    /// Authenticates the stream's credential again and takes the principal's current roles;
    /// None when it is revoked, expired or its user disabled. A store error keeps the
    /// stream going on what it had (the next check tries again).
    async fn recheck(&mut self) -> Option<()> {
        self.checked = tokio::time::Instant::now();
        let hash = self.filters.caller.secret_hash.clone()?;
        match self.state.store.authenticate(&hash).await {
            Ok(Some(found)) => {
                self.filters.caller.principal = Some(std::sync::Arc::new(found.principal));
                Some(())
            }
            Ok(None) => {
                self.buffer.clear();
                None
            }
            Err(e) => {
                tracing::warn!("event stream: cannot check its credential: {e}");
                Some(())
            }
        }
    }
}

/// One event on the wire.
fn sse(e: &Event) -> SseEvent {
    let data = serde_json::to_string(e).unwrap_or_else(|_| "{}".into());
    SseEvent::default().id(e.id.to_string()).data(data)
}
