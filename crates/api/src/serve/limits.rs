//! What one client may hold of the listener: how long it may take to send a request's
//! headers (and to finish its TLS handshake), how long a request may take to arrive and be
//! answered, how many connections are open and how many requests are answered at once.

use crate::ApiError;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// The listener's bounds. The defaults suit a server on a network; tests shorten them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A connection that has not sent a whole request head this long after it opened, or
    /// after its previous answer, is closed (slowloris, idle keep-alive); the TLS handshake
    /// has the same bound.
    pub header_read_timeout: Duration,
    /// A request whose body has not arrived and been answered this long after its head is
    /// answered 408 and its connection closed (not the event stream, which stays open).
    pub request_timeout: Duration,
    /// Open connections at most; past it, new ones wait in the kernel's backlog.
    pub max_connections: u32,
    /// Requests answered at once at most; past it, a request is answered 503 at once
    /// (`GET /health` and the event stream are not counted).
    pub max_requests: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(60),
            max_connections: 512,
            max_requests: 128,
        }
    }
}

/// The shortest and longest timeout accepted.
pub const TIMEOUT_RANGE: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(3600));

/// The largest connection or request count accepted.
pub const MAX_COUNT: u32 = 100_000;

/// A limit out of its range.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LimitError {
    /// A timeout shorter than a second or longer than an hour.
    #[error("{name} must be between 1s and 1h, not {}", humantime::format_duration(*.value))]
    Timeout {
        /// The setting.
        name: &'static str,
        /// What was given.
        value: Duration,
    },
    /// A count of zero or past [`MAX_COUNT`].
    #[error("{name} must be between 1 and {MAX_COUNT}, not {value}")]
    Count {
        /// The setting.
        name: &'static str,
        /// What was given.
        value: u32,
    },
}

impl LimitError {
    /// The setting out of range, as the config file names it (`max_requests`).
    pub fn setting(&self) -> &'static str {
        match self {
            LimitError::Timeout { name, .. } | LimitError::Count { name, .. } => name,
        }
    }
}

impl Limits {
    /// Whether every limit is in its range (named as in the config file's `[api]` section).
    pub fn check(&self) -> Result<(), LimitError> {
        let (low, high) = TIMEOUT_RANGE;
        for (name, value) in [
            ("header_read_timeout", self.header_read_timeout),
            ("request_timeout", self.request_timeout),
        ] {
            if value < low || value > high {
                return Err(LimitError::Timeout { name, value });
            }
        }
        for (name, value) in [
            ("max_connections", self.max_connections),
            ("max_requests", self.max_requests),
        ] {
            if value == 0 || value > MAX_COUNT {
                return Err(LimitError::Count { name, value });
            }
        }
        Ok(())
    }
}

/// A count as a semaphore's size (a count is at most [`MAX_COUNT`]).
pub(super) fn permits(count: u32) -> usize {
    usize::try_from(count).unwrap_or(usize::MAX)
}

/// How a route is held to the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    /// `GET /health`: answered whatever the load, so that a probe sees the node alive.
    Health,
    /// The event stream: open as long as its client follows, not timed, not counted.
    Stream,
    /// Everything else: counted and timed.
    Request,
}

fn lane(path: &str) -> Lane {
    if path == crate::router::HEALTH_PATH {
        Lane::Health
    } else if path == crate::router::EVENT_STREAM_PATH {
        Lane::Stream
    } else {
        Lane::Request
    }
}

/// The middleware's state: the free request slots and the timeout.
#[derive(Clone)]
pub(super) struct Guard {
    requests: Arc<Semaphore>,
    max_requests: usize,
    timeout: Duration,
}

impl Guard {
    pub(super) fn new(limits: &Limits) -> Guard {
        let max_requests = permits(limits.max_requests);
        Guard {
            requests: Arc::new(Semaphore::new(max_requests)),
            max_requests,
            timeout: limits.request_timeout,
        }
    }
}

/// Takes a request slot (503 when there is none) and bounds the request's time (408 past
/// it), by the request's [`Lane`].
pub(super) async fn guard(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    match lane(request.uri().path()) {
        Lane::Health | Lane::Stream => next.run(request).await,
        Lane::Request => {
            let Ok(_slot) = guard.requests.try_acquire() else {
                return ApiError::Overloaded(guard.max_requests).into_response();
            };
            match tokio::time::timeout(guard.timeout, next.run(request)).await {
                Ok(response) => response,
                Err(_) => ApiError::RequestTimeout(guard.timeout).into_response(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_in_range() {
        Limits::default().check().unwrap();
    }

    #[test]
    fn out_of_range_limits_are_named() {
        let zero = Limits {
            max_requests: 0,
            ..Limits::default()
        };
        assert_eq!(
            zero.check().unwrap_err().to_string(),
            "max_requests must be between 1 and 100000, not 0"
        );
        let long = Limits {
            header_read_timeout: Duration::from_secs(7200),
            ..Limits::default()
        };
        assert_eq!(
            long.check().unwrap_err().to_string(),
            "header_read_timeout must be between 1s and 1h, not 2h"
        );
    }

    #[test]
    fn the_exempt_lanes_are_real_routes() {
        let table = crate::route_table();
        for path in [crate::router::HEALTH_PATH, crate::router::EVENT_STREAM_PATH] {
            assert!(table.iter().any(|r| r.path == path), "no route {path}");
        }
        assert_eq!(lane("/api/v1/workflows"), Lane::Request);
        assert_eq!(lane("/api/v1/health"), Lane::Health);
    }
}
