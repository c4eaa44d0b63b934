//! Routing decisions: which lane an instance's events wait in, what a master's answer (or
//! silence) changes, and when the outbox is acknowledged and compacted.

use baton_core::WorkflowInstanceId;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use baton_proto::Redirect;
use tokio::sync::Notify;

use super::lane::{endpoint, run_lane, Lane};
use super::queue::{take_doomed, Batch, Done, Place};
use super::{State, COMPACTION_RETRY, FIRST_HOLD, MAX_BATCH, MAX_BATCH_BYTES, MAX_HOLD};
use crate::error::DispatchError;
use crate::outbox::Live;

impl State {
    pub(super) fn closed(&self) -> bool {
        self.outbox.is_none()
    }

    /// The lane to `addr`, started on first use.
    pub(super) fn lane(&mut self, addr: &str) -> Result<&mut Lane, DispatchError> {
        if !self.lanes.contains_key(addr) {
            let endpoint = endpoint(addr, &self.settings)?;
            let wake = Arc::new(Notify::new());
            let shared = self
                .me
                .upgrade()
                .expect("the state lives in its shared part");
            tokio::spawn(run_lane(
                shared,
                addr.to_string(),
                baton_proto::sizes::master_client(
                    endpoint.connect_lazy(),
                    self.settings.key.clone(),
                ),
                wake.clone(),
            ));
            self.lanes.insert(
                addr.to_string(),
                Lane {
                    ready: VecDeque::new(),
                    wake,
                    down_since: None,
                },
            );
        }
        Ok(self.lanes.get_mut(addr).expect("inserted above"))
    }

    /// Where the events of `wfi` go next: its known owner, else the master of its oldest event.
    pub(super) fn target(&self, wfi: WorkflowInstanceId) -> Option<String> {
        let instance = self.instances.get(&wfi)?;
        let front = instance.queue.front()?;
        Some(self.owners.get(wfi).unwrap_or(&front.target).to_string())
    }

    /// Puts `wfi` in the ready list of its target's lane, unless it is there, held, in flight,
    /// or has nothing to send.
    pub(super) fn schedule(&mut self, wfi: WorkflowInstanceId) {
        let Some(instance) = self.instances.get(&wfi) else {
            return;
        };
        if instance.place != Place::Idle || instance.in_flight > 0 {
            return;
        }
        let Some(target) = self.target(wfi) else {
            return;
        };
        match self.lane(&target) {
            Ok(lane) => {
                lane.ready.push_back(wfi);
                lane.wake.notify_one();
                if let Some(instance) = self.instances.get_mut(&wfi) {
                    instance.place = Place::Ready;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, workflow_instance = %wfi, "unusable master address");
                self.owners.remove(wfi);
                self.hold(wfi);
            }
        }
    }

    /// Makes `addr` the owner of `wfi`. Events of it waiting in another master's lane move to
    /// the lane of `addr` at once (events in flight follow once their call is answered).
    pub(super) fn route(&mut self, wfi: WorkflowInstanceId, addr: &str) {
        if self.owners.get(wfi) == Some(addr) {
            return;
        }
        self.owners.set(wfi, addr);
        if let Some(instance) = self.instances.get_mut(&wfi) {
            if instance.place == Place::Ready && instance.in_flight == 0 {
                // The entry left in the old lane is skipped there (see `take_batch`).
                instance.place = Place::Idle;
                self.schedule(wfi);
            }
        }
    }

    /// Removes `wfi` when it has nothing left to send, schedules it otherwise.
    pub(super) fn settle(&mut self, wfi: WorkflowInstanceId) {
        if let Some(instance) = self.instances.get(&wfi) {
            if instance.queue.is_empty() && instance.in_flight == 0 {
                self.instances.remove(&wfi);
            } else {
                self.schedule(wfi);
            }
        }
    }

    /// Sends the events of `wfi` again after a backoff, to any known master.
    pub(super) fn hold(&mut self, wfi: WorkflowInstanceId) {
        let Some(instance) = self.instances.get_mut(&wfi) else {
            return;
        };
        if instance.queue.is_empty() {
            self.instances.remove(&wfi);
            return;
        }
        instance.place = Place::Held;
        let wait = instance.hold;
        instance.hold = (instance.hold * 2).min(MAX_HOLD);
        let me = self.me.clone();
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            if let Some(shared) = me.upgrade() {
                shared.lock().release(wfi);
            }
        });
    }

    /// The end of a hold: the instance goes to a known master, in turn, unless a dispatch
    /// named its owner meanwhile.
    pub(super) fn release(&mut self, wfi: WorkflowInstanceId) {
        if self.closed() {
            return;
        }
        match self.instances.get_mut(&wfi) {
            Some(instance) if instance.place == Place::Held => instance.place = Place::Idle,
            _ => return,
        }
        if self.owners.get(wfi).is_none() {
            let lanes = &self.lanes;
            let pick = self.masters.pick(None, |a| is_down(lanes, a));
            if let Some(master) = pick {
                self.owners.set(wfi, &master);
            }
        }
        self.settle(wfi);
    }

    /// Takes the next batch for the lane of `addr`, marking its events in flight.
    pub(super) fn take_batch(&mut self, addr: &str) -> Batch {
        let mut batch = Batch::default();
        let mut moved = Vec::new();
        let mut bytes = 0;
        let Some(lane) = self.lanes.get_mut(addr) else {
            return batch;
        };
        while batch.events.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
            let Some(wfi) = lane.ready.pop_front() else {
                break;
            };
            let Some(instance) = self.instances.get_mut(&wfi) else {
                continue;
            };
            // Not Ready: an older entry for an instance handled through a newer one.
            if instance.place != Place::Ready || instance.in_flight > 0 {
                continue;
            }
            instance.place = Place::Idle;
            let Some(front) = instance.queue.front() else {
                continue;
            };
            if self.owners.get(wfi).unwrap_or(&front.target) != addr {
                // Its owner changed since it was queued here.
                moved.push(wfi);
                continue;
            }
            // At least one event, then as many as fit.
            let mut n = 0;
            for q in instance.queue.iter() {
                if batch.events.len() + n == MAX_BATCH
                    || (n > 0 && bytes + q.bytes > MAX_BATCH_BYTES)
                {
                    break;
                }
                bytes += q.bytes;
                n += 1;
            }
            batch
                .events
                .extend(instance.queue.iter().take(n).map(|q| q.event.clone()));
            instance.in_flight = n;
            batch.parts.push((wfi, n));
        }
        for wfi in moved {
            self.schedule(wfi);
        }
        batch
    }

    /// Applies the master's answer to a batch sent to `addr`.
    pub(super) fn delivered(
        &mut self,
        addr: &str,
        parts: &[(WorkflowInstanceId, usize)],
        redirects: Vec<Redirect>,
    ) {
        if self.closed() {
            return;
        }
        if let Some(lane) = self.lanes.get_mut(addr) {
            lane.down_since = None;
        }
        let redirects: HashMap<WorkflowInstanceId, String> = redirects
            .into_iter()
            .map(|r| (WorkflowInstanceId(r.workflow_instance_id), r.master_addr))
            .collect();
        let mut done = Done::default();
        for &(wfi, n) in parts {
            let Some(instance) = self.instances.get_mut(&wfi) else {
                continue;
            };
            instance.in_flight = 0;
            match redirects.get(&wfi) {
                None => {
                    for q in instance.queue.drain(..n) {
                        done.add(&q);
                    }
                    instance.hold = FIRST_HOLD;
                    self.owners.set(wfi, addr);
                    self.settle(wfi);
                }
                Some(to) => {
                    take_doomed(instance, n, &mut done);
                    if to.is_empty() || to == addr {
                        tracing::debug!(master = %addr, workflow_instance = %wfi, "no master owns the instance yet; holding its events");
                        self.owners.remove(wfi);
                        self.hold(wfi);
                    } else {
                        tracing::debug!(master = %addr, workflow_instance = %wfi, owner = %to, "events redirected to the instance's owner");
                        self.masters.saw(to);
                        self.owners.set(wfi, to);
                        self.settle(wfi);
                    }
                }
            }
        }
        self.done(done);
    }

    /// Handles a failed call to `addr` that began at `began`; returns how long the lane waits
    /// before it sends again.
    pub(super) fn failed(
        &mut self,
        addr: &str,
        parts: &[(WorkflowInstanceId, usize)],
        began: Instant,
        backoff: Duration,
    ) -> Duration {
        if self.closed() {
            return backoff;
        }
        let reroute_after = self.settings.reroute_after;
        let Some(lane) = self.lanes.get_mut(addr) else {
            return backoff;
        };
        let since = *lane.down_since.get_or_insert(began);
        let reroute = since.elapsed() >= reroute_after;
        let mut wfis: Vec<WorkflowInstanceId> = parts.iter().map(|(wfi, _)| *wfi).collect();
        if reroute {
            wfis.extend(lane.ready.drain(..));
        }
        let mut done = Done::default();
        for &(wfi, n) in parts {
            if let Some(instance) = self.instances.get_mut(&wfi) {
                instance.in_flight = 0;
                take_doomed(instance, n, &mut done);
            }
        }
        let mut rerouted = 0;
        for wfi in wfis {
            if reroute {
                let Some(instance) = self.instances.get_mut(&wfi) else {
                    continue;
                };
                if instance.in_flight > 0 || instance.place == Place::Held {
                    continue;
                }
                instance.place = Place::Idle;
                if self.target(wfi).as_deref() == Some(addr) {
                    let lanes = &self.lanes;
                    let other = self.masters.pick(Some(addr), |a| is_down(lanes, a));
                    if let Some(other) = other {
                        self.owners.set(wfi, &other);
                        rerouted += 1;
                    }
                }
            }
            self.settle(wfi);
        }
        if rerouted > 0 {
            tracing::info!(master = %addr, down_for = ?since.elapsed(), instances = rerouted, "master unreachable; trying other masters");
        }
        self.done(done);
        if reroute {
            backoff
        } else {
            let until_reroute = (since + reroute_after).saturating_duration_since(Instant::now());
            backoff.min(until_reroute).max(Duration::from_millis(5))
        }
    }

    /// Records events as done with in the outbox and stops counting them as pending.
    pub(super) fn done(&mut self, mut done: Done) {
        if done.seqs.is_empty() {
            return;
        }
        done.seqs.sort_unstable();
        let count = done.seqs.len();
        for (key, finished) in done.keys {
            self.traces.done(key, finished);
        }
        if let Some(outbox) = self.outbox.as_mut() {
            if let Err(e) = outbox.ack(&done.seqs, done.bytes) {
                self.write_error(e);
            }
        }
        self.pending.send_modify(|n| *n -= count);
        self.maybe_compact();
    }

    pub(super) fn write_error(&mut self, e: std::io::Error) {
        if !std::mem::replace(&mut self.write_failing, true) {
            tracing::error!(error = %e, "cannot write to the outbox; events are still sent, but a restart would lose those not acknowledged by then");
        }
    }

    /// Moves the pending events to a fresh segment when the active one is mostly done with.
    pub(super) fn maybe_compact(&mut self) {
        if self.compact_after.is_some_and(|t| Instant::now() < t) {
            return;
        }
        let Some(outbox) = self.outbox.as_mut() else {
            return;
        };
        if !outbox.wants_compaction() {
            return;
        }
        let live = self
            .instances
            .values()
            .flat_map(|i| i.queue.iter())
            .map(|q| Live {
                seq: q.seq,
                target: &q.target,
                event: &q.event,
            });
        match outbox.compact(live) {
            Ok(()) => self.compact_after = None,
            Err(e) => {
                tracing::error!(error = %e, "compacting the outbox failed; trying again later");
                self.compact_after = Some(Instant::now() + COMPACTION_RETRY);
            }
        }
    }
}

fn is_down(lanes: &HashMap<String, Lane>, addr: &str) -> bool {
    lanes.get(addr).is_some_and(|l| l.down_since.is_some())
}
