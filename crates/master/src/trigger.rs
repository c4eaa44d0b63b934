//! The trigger: fires the schedules that are due, in batches. Each batch of due schedules is
//! taken under row locks (skipped by the other masters), each schedule's fires are planned by
//! `ScheduleSpec::plan` (misfire and concurrency policies), and the batch is written in a few
//! statements (its instances under the unique key (schedule, fire time), their starts, the
//! schedules' next fires) in the tick's transaction: one instance per fire, however many
//! masters run. It goes on batch after batch while schedules are due, within a time budget;
//! past it, the next tick follows at once.

use crate::engine::{Engine, Tick};
use baton_core::spec::{Concurrency, Trigger};
use baton_core::EventKind;
use baton_core::{WorkflowId, WorkflowInstanceId};
use baton_store::{
    CommandKind, DueSchedule, EngineTx, FireOutcome, NewEvent, PlannedFire, StoreError,
};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Schedules taken per batch.
const DUE_BATCH: i64 = 1000;

/// A length as a count the store takes (saturating: a length never comes near `i64::MAX`).
fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// How long one tick fires batches before it lets the rest of the tick run (the next tick
/// follows at once). Long enough that a burst of thousands of fires is written before the
/// tick starts any of their instances (starting them costs more than firing them), short
/// enough that a backlog of a hundred thousand does not hold up the engine's other work.
const FIRE_BUDGET: Duration = Duration::from_secs(2);

/// When this master has been taking work without a break: the fires due since then became
/// due while a master ran, and are never misfires however late a backlog makes them.
#[derive(Debug, Default)]
pub(crate) struct TriggerClock {
    since: i64,
    last_scan: Option<i64>,
}

impl TriggerClock {
    /// Notes a scan at `now`; a scan more than `gap` after the previous one (or the first)
    /// begins a new run of taking work.
    fn scan(&mut self, now: i64, gap: Duration) -> i64 {
        let gap = baton_core::duration::micros(gap);
        if self.last_scan.is_none_or(|last| now - last > gap) {
            self.since = now;
        }
        self.last_scan = Some(now);
        self.since
    }
}

impl Engine {
    /// Starts the instances of every due fire, batch after batch, within [`FIRE_BUDGET`].
    pub(crate) async fn fire_due(
        &mut self,
        tx: &mut dyn EngineTx,
        t: &mut Tick,
    ) -> Result<(), StoreError> {
        let now = self.now();
        // Scans happen at least once a command poll while this master takes work.
        let gap = (self.config.command_poll * 3).max(Duration::from_micros(
            baton_core::spec::schedule::MISFIRE_GRACE_US.unsigned_abs(),
        ));
        let since = self.trigger.scan(now, gap);
        let began = Instant::now();
        // Schedules decided about in this tick that stay due (a queued fire waiting).
        let mut still_due = Vec::new();
        let mut taken = 0;
        loop {
            let due = tx.due_schedules(now, &still_due, DUE_BATCH).await?;
            let full = count(due.len()) >= DUE_BATCH;
            let outcomes = self
                .fire_batch(tx, &due, now, since, &mut still_due)
                .await?;
            taken += due.len();
            self.record_fires(&due, &outcomes, t);
            let many_waiting = count(still_due.len()) > DUE_BATCH;
            if !full || many_waiting || began.elapsed() > FIRE_BUDGET {
                if taken > 0 {
                    tracing::debug!("trigger: {taken} due schedule(s) in {:?}", began.elapsed());
                }
                // Past the budget with more due, the next tick goes on at once.
                t.more_commands |= full;
                return Ok(());
            }
        }
    }

    /// Plans one batch of due schedules and writes it; returns what became of each fire, and
    /// adds to `still_due` the schedules that stay due.
    async fn fire_batch(
        &mut self,
        tx: &mut dyn EngineTx,
        due: &[DueSchedule],
        now: i64,
        since: i64,
        still_due: &mut Vec<WorkflowId>,
    ) -> Result<Vec<FireOutcome>, StoreError> {
        let watched: Vec<_> = due
            .iter()
            .filter(|d| d.schedule.spec.concurrency != Concurrency::Allow)
            .map(|d| d.schedule.workflow_id)
            .collect();
        let running = tx.running_of_schedules(&watched).await?;
        let mut plans = Vec::with_capacity(due.len());
        for d in due {
            let s = &d.schedule;
            let theirs = running.get(&s.workflow_id).map_or(&[][..], Vec::as_slice);
            let tz = s.workflow_timezone.as_deref();
            let plan = s
                .spec
                .plan(tz, s.next_fire_at.unwrap_or(now), now, since, theirs.len());
            if plan.stop_running {
                for (id, owner) in theirs {
                    let target = owner.clone().unwrap_or_else(|| self.config.id.clone());
                    tx.forward_command(CommandKind::Stop, *id, &target).await?;
                }
            }
            if plan.next_fire_at.is_some_and(|next| next <= now) {
                still_due.push(s.workflow_id);
            }
            plans.push(PlannedFire {
                due: d,
                fire: plan.fire,
                missed: plan.missed,
                next_fire_at: plan.next_fire_at,
            });
        }
        tx.fire_batch(&plans, now).await
    }

    /// After an instance of a fixed-delay schedule ends, its next fire is the delay later.
    pub(crate) async fn after_scheduled_end(
        &mut self,
        tx: &mut dyn EngineTx,
        id: WorkflowInstanceId,
    ) -> Result<(), StoreError> {
        let Some(inst) = self.instances.get(&id) else {
            return Ok(());
        };
        let (Some(schedule_id), Some(spec)) =
            (inst.schedule_id, inst.version.spec.schedule.as_ref())
        else {
            return Ok(());
        };
        if let Ok(Trigger::FixedDelay(delay)) = spec.trigger(inst.version.spec.timezone.as_deref())
        {
            let at = self
                .now()
                .saturating_add(baton_core::duration::micros(delay));
            tx.delay_schedule(schedule_id, at).await?;
        }
        Ok(())
    }

    /// Starts the next instances of each running backfill while fewer than its `parallel`
    /// run, and marks it done (its `backfill_ended` event) when all have ended.
    pub(crate) async fn feed_backfills(
        &mut self,
        tx: &mut dyn EngineTx,
        t: &mut Tick,
    ) -> Result<(), StoreError> {
        let now = self.now();
        for backfill in tx.running_backfills().await? {
            let running = tx.backfill_running(backfill.id).await?;
            let waiting = backfill.waiting();
            if waiting.is_empty() {
                if running == 0 && tx.finish_backfill(backfill.id, now).await? {
                    tracing::info!("backfill {} done", backfill.id);
                }
                continue;
            }
            let free = usize::try_from(backfill.parallel.saturating_sub(running)).unwrap_or(0);
            let next = &waiting[..free.min(waiting.len())];
            if next.is_empty() {
                continue;
            }
            let Some(workflow) = self.store.get_latest_workflow(backfill.workflow_id).await? else {
                continue;
            };
            for at in next {
                let id = tx
                    .backfill_instance(backfill.id, &workflow, *at, now)
                    .await?;
                tracing::info!("backfill {} started instance {id}", backfill.id);
            }
            t.more_commands = true;
            let started = backfill.started.saturating_add(count(next.len()));
            tx.advance_backfill(backfill.id, started).await?;
        }
        Ok(())
    }
}

impl Engine {
    /// Records the lifecycle events of a batch's fires (a fire and its instance, or missed
    /// fires), each about its schedule's workflow.
    fn record_fires(&mut self, due: &[DueSchedule], outcomes: &[FireOutcome], t: &mut Tick) {
        let now = self.now();
        let names: HashMap<WorkflowId, (&str, &str)> = due
            .iter()
            .map(|d| {
                let s = &d.schedule;
                (s.workflow_id, (s.project.as_str(), s.name.as_str()))
            })
            .collect();
        for outcome in outcomes {
            let workflow = match outcome {
                FireOutcome::Fired { workflow, .. }
                | FireOutcome::AlreadyFired { workflow, .. }
                | FireOutcome::Misfired { workflow, .. } => workflow,
            };
            // Every outcome is of a schedule of the batch.
            let Some(&(project, name)) = names.get(workflow) else {
                continue;
            };
            if let FireOutcome::Fired { fire_time, .. } = outcome {
                t.more_commands = true;
                let late = crate::metrics::seconds_between(*fire_time, now);
                t.observed.push(crate::metrics::Observation::Lateness(late));
            }
            if let Some(event) = fire_event(outcome, project, name, now) {
                self.writes.events.push(event);
            }
        }
    }
}

/// The lifecycle event of one fire of the schedule of `project`/`name`, if it has one.
fn fire_event(outcome: &FireOutcome, project: &str, name: &str, now: i64) -> Option<NewEvent> {
    let event = match outcome {
        FireOutcome::Fired {
            workflow,
            fire_time,
            instance,
        } => NewEvent::new(
            EventKind::ScheduleFired,
            now,
            format!("the schedule of workflow {workflow} fired instance {instance}"),
        )
        .instance(*instance, project, name)
        .detail(serde_json::json!({"workflow_id": workflow.0, "fire_time_us": fire_time})),
        FireOutcome::AlreadyFired { .. } => return None,
        FireOutcome::Misfired { workflow, missed } => NewEvent::new(
            EventKind::ScheduleMisfired,
            now,
            format!(
                "the schedule of workflow {workflow}: {} fire(s) missed while no master ran",
                missed.count
            ),
        )
        .workflow(project, name)
        .detail(serde_json::json!({
            "workflow_id": workflow.0,
            "count": missed.count,
            "first_us": missed.first,
            "last_us": missed.last,
        })),
    };
    Some(event)
}
