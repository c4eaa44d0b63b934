//! The trigger: fires the schedules that are due. Each due schedule is taken under a row lock
//! (skipped by the other masters), its fires are planned by `ScheduleSpec::plan` (misfire and
//! concurrency policies), and each fire's instance is created under the unique key (schedule,
//! fire time), in the tick's transaction: one instance per fire, however many masters run.

use crate::engine::{Engine, Tick};
use baton_core::spec::Trigger;
use baton_core::WorkflowInstanceId;
use baton_store::{now_us, CommandKind, EngineTx, StoreError};

/// Schedules taken per tick.
const DUE_BATCH: i64 = 64;

impl Engine {
    /// Starts the instances of every due fire.
    pub(crate) async fn fire_due(
        &mut self,
        tx: &mut EngineTx,
        t: &mut Tick,
    ) -> Result<(), StoreError> {
        let now = now_us();
        for schedule in tx.due_schedules(now, DUE_BATCH).await? {
            let Some(workflow) = self
                .store
                .get_workflow(&schedule.project, &schedule.name, None)
                .await?
            else {
                continue;
            };
            let running = tx.running_of_schedule(schedule.workflow_id).await?;
            let due = schedule.next_fire_at.unwrap_or(now);
            let plan = schedule.spec.plan(
                schedule.workflow_timezone.as_deref(),
                due,
                now,
                running.len(),
            );
            if plan.stop_running {
                for (id, owner) in &running {
                    let target = owner.clone().unwrap_or_else(|| self.config.id.clone());
                    tx.forward_command(CommandKind::Stop, *id, &target).await?;
                }
            }
            for fire in &plan.fire {
                if let Some(id) = tx.fire(&workflow, *fire).await? {
                    tracing::info!(
                        "schedule of {}/{} fired instance {id}",
                        schedule.project,
                        schedule.name
                    );
                    t.more_commands = true;
                }
            }
            tx.advance_schedule(
                schedule.workflow_id,
                plan.next_fire_at,
                plan.fire.last().copied(),
            )
            .await?;
        }
        Ok(())
    }

    /// After an instance of a fixed-delay schedule ends, its next fire is the delay later.
    pub(crate) async fn after_scheduled_end(
        &mut self,
        tx: &mut EngineTx,
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
            tx.delay_schedule(schedule_id, now_us() + delay.as_micros() as i64)
                .await?;
        }
        Ok(())
    }

    /// Starts the next instances of each running backfill while fewer than its `parallel`
    /// run, and marks it done when all have ended.
    pub(crate) async fn feed_backfills(
        &mut self,
        tx: &mut EngineTx,
        t: &mut Tick,
    ) -> Result<(), StoreError> {
        for backfill in tx.running_backfills().await? {
            let running = tx.backfill_running(backfill.id).await?;
            let total = backfill.times.len() as i64;
            if backfill.started >= total {
                if running == 0 {
                    tx.update_backfill(backfill.id, backfill.started, "done")
                        .await?;
                }
                continue;
            }
            let Some(workflow) = self.store.get_latest_workflow(backfill.workflow_id).await? else {
                continue;
            };
            let mut started = backfill.started;
            let mut free = backfill.parallel - running;
            while free > 0 && started < total {
                let at = backfill.times[started as usize];
                let id = tx.backfill_instance(backfill.id, &workflow, at).await?;
                tracing::info!("backfill {} started instance {id}", backfill.id);
                started += 1;
                free -= 1;
                t.more_commands = true;
            }
            tx.update_backfill(backfill.id, started, "running").await?;
        }
        Ok(())
    }
}
