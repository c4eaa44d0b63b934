//! Being a member: registering, heartbeating in the background, noticing when the session is
//! lost (expired, or unrenewable for a whole session timeout) and registering again; and a
//! live view of the other members. Every role (master, worker, api) uses this.

use crate::{Load, Member, Registration, Registry, RegistryError};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// This member's session as the member itself sees it, so that a role can stop its work as
/// soon as the others may consider it dead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionState {
    /// Registered and renewing. A change of `session` means the previous one was lost in
    /// between (a watch keeps only the latest value, so a quick Lost → Alive may be seen as
    /// just a new session): treat it like `Lost` followed by a fresh start.
    Alive {
        /// The current session id.
        session: String,
    },
    /// The session expired, or could not be renewed for a whole session timeout: others
    /// consider this member dead and are re-running its work. Registration is retried.
    Lost,
}

/// A registered member that keeps its session alive in a background task; stop it with
/// [`Membership::leave`]. Dropping it stops the heartbeats without deregistering (the session
/// then expires after the timeout).
pub struct Membership {
    registry: Arc<dyn Registry>,
    id: String,
    load: Arc<Mutex<Load>>,
    state: watch::Receiver<SessionState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Option<String>>>,
}

impl std::fmt::Debug for Membership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Membership")
            .field("id", &self.id)
            .field("state", &*self.state.borrow())
            .finish_non_exhaustive()
    }
}

impl Membership {
    /// Registers `member` and starts heartbeating every `interval` in a background task (the
    /// interval should be well under the registry's session timeout). Fails if the first
    /// registration fails.
    pub async fn join(
        registry: Arc<dyn Registry>,
        member: Member,
        interval: Duration,
    ) -> Result<Membership, RegistryError> {
        let timeout = registry.session_timeout();
        if interval >= timeout {
            tracing::warn!(
                ?interval,
                ?timeout,
                "the heartbeat interval is not shorter than the session timeout"
            );
        }
        let sent = Instant::now();
        let session = registry.register(&member).await?;
        let (state_tx, state) = watch::channel(SessionState::Alive {
            session: session.clone(),
        });
        let load = Arc::new(Mutex::new(member.load.clone()));
        let (stop, stopped) = oneshot::channel();
        let id = member.id.clone();
        let heartbeater = Heartbeater {
            registry: registry.clone(),
            member,
            load: load.clone(),
            interval: interval.max(Duration::from_millis(1)),
            state: state_tx,
            session: Some(session),
            renewed_at: sent,
        };
        let task = tokio::spawn(heartbeater.run(stopped));
        Ok(Membership {
            registry,
            id,
            load,
            state,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Updates the load sent with the next heartbeats.
    pub fn set_load(&self, load: Load) {
        *self.load.lock().unwrap_or_else(|p| p.into_inner()) = load;
    }

    /// Alive / Lost changes, for the role to stop its work when the session is lost.
    pub fn state(&self) -> watch::Receiver<SessionState> {
        self.state.clone()
    }

    /// The current session id, if the session is alive.
    pub fn session(&self) -> Option<String> {
        match &*self.state.borrow() {
            SessionState::Alive { session } => Some(session.clone()),
            SessionState::Lost => None,
        }
    }

    /// Deregisters and stops the heartbeat (graceful stop), so that others see this member
    /// gone at once instead of after the session timeout.
    pub async fn leave(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let session = match self.task.take() {
            Some(task) => task.await.ok().flatten(),
            None => None,
        };
        let Some(session) = session else {
            return;
        };
        let timeout = self.registry.session_timeout();
        match tokio::time::timeout(timeout, self.registry.deregister(&self.id, &session)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(id = %self.id, error = %e, "could not deregister"),
            Err(_) => tracing::warn!(id = %self.id, "deregistering timed out"),
        }
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        // Dropping `stop` ends the heartbeat task at its next wake-up.
        self.stop.take();
    }
}

/// The background heartbeat of one member.
struct Heartbeater {
    registry: Arc<dyn Registry>,
    member: Member,
    load: Arc<Mutex<Load>>,
    interval: Duration,
    state: watch::Sender<SessionState>,
    session: Option<String>,
    /// When the last successful heartbeat or registration was sent: the registry's expiry is
    /// no earlier than this plus the session timeout.
    renewed_at: Instant,
}

impl Heartbeater {
    fn lose(&mut self, why: &str) {
        tracing::warn!(id = %self.member.id, session = ?self.session, "registry session lost: {why}");
        self.session = None;
        self.state.send_replace(SessionState::Lost);
    }

    /// Heartbeats (or re-registers while Lost) until stopped; returns the live session, if
    /// any, for deregistration.
    async fn run(mut self, mut stop: oneshot::Receiver<()>) -> Option<String> {
        let timeout = self.registry.session_timeout();
        let mut next = self.renewed_at + self.interval;
        let mut failing = false;
        loop {
            let deadline = self.renewed_at + timeout;
            let wake = if self.session.is_some() {
                next.min(deadline)
            } else {
                next
            };
            tokio::select! {
                _ = &mut stop => return self.session,
                _ = tokio::time::sleep_until(wake) => {}
            }
            let now = Instant::now();
            if self.session.is_some() && now >= deadline {
                self.lose("no heartbeat succeeded for a whole session timeout");
                next = now + self.interval;
                continue;
            }
            if now < next {
                continue;
            }
            next = now + self.interval;
            self.member.load = self.load.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let registry = self.registry.clone();
            match self.session.clone() {
                Some(session) => {
                    let call = registry.heartbeat(&self.member, &session);
                    let outcome = tokio::select! {
                        _ = &mut stop => return self.session,
                        outcome = tokio::time::timeout_at(deadline, call) => outcome,
                    };
                    match outcome {
                        Ok(Ok(())) => {
                            self.renewed_at = now;
                            if std::mem::take(&mut failing) {
                                tracing::info!(id = %self.member.id, "heartbeats work again");
                            }
                        }
                        Ok(Err(RegistryError::SessionLost(_))) => {
                            self.lose("the registry says it expired")
                        }
                        Ok(Err(e)) => {
                            if !std::mem::replace(&mut failing, true) {
                                tracing::warn!(id = %self.member.id, error = %e, "heartbeat failed");
                            }
                        }
                        Err(_) => self.lose("no heartbeat succeeded for a whole session timeout"),
                    }
                }
                None => {
                    let call = registry.register(&self.member);
                    let outcome = tokio::select! {
                        _ = &mut stop => return None,
                        outcome = tokio::time::timeout(timeout, call) => outcome,
                    };
                    match outcome {
                        Ok(Ok(session)) => {
                            tracing::info!(id = %self.member.id, %session, "registered again");
                            failing = false;
                            self.renewed_at = now;
                            self.session = Some(session.clone());
                            self.state.send_replace(SessionState::Alive { session });
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(id = %self.member.id, error = %e, "registering again failed")
                        }
                        Err(_) => {
                            tracing::debug!(id = %self.member.id, "registering again timed out")
                        }
                    }
                }
            }
        }
    }
}

/// A live view of the members, for dispatchers and status pages: polls
/// [`Registry::members`] every `interval`, and keeps the last good list while the registry is
/// briefly unreachable. Empty until the first successful poll. The polling task ends when
/// every receiver is dropped. Needs a tokio runtime.
pub fn watch_members(
    registry: Arc<dyn Registry>,
    interval: Duration,
) -> watch::Receiver<Vec<Registration>> {
    let (tx, rx) = watch::channel(Vec::new());
    let call_timeout = registry.session_timeout().max(interval);
    tokio::spawn(async move {
        let mut failing = false;
        loop {
            match tokio::time::timeout(call_timeout, registry.members()).await {
                Ok(Ok(members)) => {
                    if std::mem::take(&mut failing) {
                        tracing::info!("the registry answers again");
                    }
                    tx.send_if_modified(|current| {
                        let changed = *current != members;
                        if changed {
                            *current = members;
                        }
                        changed
                    });
                }
                Ok(Err(e)) => {
                    if !std::mem::replace(&mut failing, true) {
                        tracing::warn!(error = %e, "cannot list members; keeping the last list");
                    }
                }
                Err(_) => {
                    if !std::mem::replace(&mut failing, true) {
                        tracing::warn!("listing members timed out; keeping the last list");
                    }
                }
            }
            tokio::select! {
                _ = tx.closed() => return,
                _ = tokio::time::sleep(interval.max(Duration::from_millis(1))) => {}
            }
        }
    });
    rx
}
