//! `baton-bench failover`: on the bench's cluster, each round starts long workflows (8 tasks of
//! `sleep` in parallel) until both masters own instances and both workers run tasks, then
//!
//! 1. SIGKILLs a master and times, from the kill, until one of its instances is adopted (the
//!    instance's `owner` becomes the other master), and starts it again;
//! 2. SIGKILLs a worker and times until one of its running tasks is re-dispatched (the task
//!    instance's `attempt` grows and the new attempt is on the other worker), and starts it
//!    again;
//!
//! then stops the round's instances. Times are wall clock in the bench process, polled every
//! 50 ms through the REST API.

use crate::args::FailoverArgs;
use crate::figures::{quantile, Figures};
use crate::target::{Role, Running};
use anyhow::{bail, Context};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

/// The workflow every round starts.
const WORKFLOW: &str = "failover";
/// How often the bench polls the API while it waits for a failover.
const POLL: Duration = Duration::from_millis(50);
/// Tasks per instance.
const WIDTH: usize = 8;
/// At most this many instances a round, while waiting for both masters to own one.
const MAX_INSTANCES: usize = 8;

/// The times measured, in seconds.
#[derive(Default)]
struct Samples {
    master: Vec<f64>,
    worker: Vec<f64>,
    master_missed: usize,
    worker_missed: usize,
}

/// Runs the rounds on a cluster and prints the times.
pub async fn run(baton: &Path, args: &FailoverArgs) -> anyhow::Result<()> {
    let mut target = args.target.clone();
    target.cluster = true;
    // Room on either worker for every task of a round: a re-dispatched task must not wait
    // for a slot (that would time the tasks, not the failover).
    target.slots = Some(target.slots.unwrap_or(MAX_INSTANCES * WIDTH));
    let strategy = target
        .strategy
        .clone()
        .unwrap_or_else(|| "round_robin".into());
    let kills = args.kills as usize;
    // Long enough to outlast a round, whatever the session timeout.
    let sleep_s = (target.session_timeout.as_secs() * 10).max(60);
    let mut cluster = Running::start(baton, &target, &strategy).await?;
    let mut samples = Samples::default();
    let give_up = target.session_timeout * 10 + Duration::from_secs(30);
    let result = rounds(&mut cluster, kills, sleep_s, give_up, &mut samples).await;
    let mut f = Figures::default();
    f.add("workload", "failover");
    cluster.describe(&mut f);
    if result.is_err() || target.keep_logs {
        cluster.keep_logs();
    }
    drop(cluster);
    result?;
    let mut master = samples.master.clone();
    let mut worker = samples.worker.clone();
    master.sort_by(f64::total_cmp);
    worker.sort_by(f64::total_cmp);
    let list = |v: &[f64]| {
        v.iter()
            .map(|s| format!("{s:.2}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    f.add("kills", kills);
    f.add(
        "master_failover_p50_s",
        format!("{:.2}", quantile(&master, 0.5)),
    );
    f.add(
        "master_failover_max_s",
        format!("{:.2}", quantile(&master, 1.0)),
    );
    f.add("master_failover_missed", samples.master_missed);
    f.add("master_failover_samples_s", list(&samples.master));
    f.add(
        "worker_failover_p50_s",
        format!("{:.2}", quantile(&worker, 0.5)),
    );
    f.add(
        "worker_failover_max_s",
        format!("{:.2}", quantile(&worker, 1.0)),
    );
    f.add("worker_failover_missed", samples.worker_missed);
    f.add("worker_failover_samples_s", list(&samples.worker));
    f.print();
    Ok(())
}

fn workflow(sleep_s: u64) -> String {
    let mut y = format!("name: {WORKFLOW}\ntasks:\n");
    for i in 0..WIDTH {
        y.push_str(&format!(
            "  - {{name: s{i}, type: shell, command: 'sleep {sleep_s}'}}\n"
        ));
    }
    y
}

/// What the bench needs of one task instance.
#[derive(Debug, Clone)]
struct Task {
    id: i64,
    state: String,
    attempt: i64,
    worker: Option<String>,
}

/// What the bench needs of one workflow instance.
#[derive(Debug, Clone)]
struct Instance {
    state: String,
    owner: Option<String>,
    tasks: Vec<Task>,
}

async fn instance(c: &Running, id: i64) -> anyhow::Result<Instance> {
    let v = c.api.get(&format!("/instances/{id}")).await?;
    let detail: baton_api_model::InstanceDetail =
        serde_json::from_value(v).context("an instance as the API shows it")?;
    let tasks = detail
        .tasks
        .into_iter()
        .map(|t| Task {
            id: t.id,
            state: t.state.as_str().to_string(),
            attempt: t.attempt,
            worker: t.worker,
        })
        .collect();
    Ok(Instance {
        state: detail.instance.state.as_str().to_string(),
        owner: detail.instance.owner,
        tasks,
    })
}

async fn instances(c: &Running, ids: &[i64]) -> anyhow::Result<BTreeMap<i64, Instance>> {
    let mut out = BTreeMap::new();
    for id in ids {
        out.insert(*id, instance(c, *id).await?);
    }
    Ok(out)
}

fn is_final(state: &str) -> bool {
    matches!(state, "succeeded" | "failed" | "stopped")
}

/// The masters that own running instances among `views`, with those instances.
fn owners(views: &BTreeMap<i64, Instance>) -> BTreeMap<String, Vec<i64>> {
    let mut owners: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (id, v) in views {
        if let (Some(owner), "running") = (&v.owner, v.state.as_str()) {
            owners.entry(owner.clone()).or_default().push(*id);
        }
    }
    owners
}

/// The running tasks among `views` on each worker: worker → (instance, task, attempt).
fn running(views: &BTreeMap<i64, Instance>) -> BTreeMap<String, Vec<(i64, i64, i64)>> {
    let mut out: BTreeMap<String, Vec<(i64, i64, i64)>> = BTreeMap::new();
    for (id, v) in views {
        for t in &v.tasks {
            if let (Some(w), "running") = (&t.worker, t.state.as_str()) {
                out.entry(w.clone())
                    .or_default()
                    .push((*id, t.id, t.attempt));
            }
        }
    }
    out
}

async fn rounds(
    c: &mut Running,
    kills: usize,
    sleep_s: u64,
    give_up: Duration,
    samples: &mut Samples,
) -> anyhow::Result<()> {
    c.api.apply(&workflow(sleep_s)).await?;
    let (masters, workers) = c.addresses();
    for round in 0..kills {
        let ids = start_round(c).await?;

        // A master.
        let views = instances(c, &ids).await?;
        let owners = owners(&views);
        let preferred = round % masters.len();
        let victim = std::iter::once(preferred)
            .chain(0..masters.len())
            .find(|i| owners.contains_key(&masters[*i]))
            .context("no master owns a running instance")?;
        let victim_id = masters[victim].clone();
        let theirs = owners[&victim_id].clone();
        let killed_at = baton_store::now_us();
        let t0 = Instant::now();
        c.role(Role::Master, victim)?.kill();
        let mut adopted = None;
        while t0.elapsed() < give_up {
            tokio::time::sleep(POLL).await;
            let mut found = false;
            for id in &theirs {
                let v = instance(c, *id).await?;
                if v.owner.as_ref().is_some_and(|o| *o != victim_id) {
                    found = true;
                    break;
                }
            }
            if found {
                adopted = Some(t0.elapsed());
                break;
            }
        }
        match adopted {
            Some(d) => {
                eprintln!(
                    "round {round}: master {victim_id} killed, an instance adopted after {:.2}s",
                    d.as_secs_f64()
                );
                samples.master.push(d.as_secs_f64());
            }
            None => {
                samples.master_missed += 1;
                eprintln!(
                    "round {round}: no instance of master {victim_id} adopted within {give_up:?}"
                );
            }
        }
        restart(c, Role::Master, victim, killed_at).await?;

        // A worker.
        let views = instances(c, &ids).await?;
        let running = running(&views);
        let preferred = round % workers.len();
        let victim = std::iter::once(preferred)
            .chain(0..workers.len())
            .find(|i| running.contains_key(&workers[*i]))
            .context("no task is running on a worker")?;
        let victim_id = workers[victim].clone();
        let others: BTreeSet<String> = workers
            .iter()
            .filter(|a| **a != victim_id)
            .cloned()
            .collect();
        let theirs = running[&victim_id].clone();
        let holders: BTreeSet<i64> = theirs.iter().map(|(i, _, _)| *i).collect();
        let killed_at = baton_store::now_us();
        let t0 = Instant::now();
        c.role(Role::Worker, victim)?.kill();
        let mut redispatched = None;
        'poll: while t0.elapsed() < give_up {
            tokio::time::sleep(POLL).await;
            for id in &holders {
                let v = instance(c, *id).await?;
                for (_, task, attempt) in theirs.iter().filter(|(i, _, _)| i == id) {
                    let moved = v.tasks.iter().any(|t| {
                        t.id == *task
                            && t.attempt > *attempt
                            && t.worker.as_ref().is_some_and(|w| others.contains(w))
                            && matches!(t.state.as_str(), "dispatched" | "running")
                    });
                    if moved {
                        redispatched = Some((t0.elapsed(), *task));
                        break 'poll;
                    }
                }
            }
        }
        match redispatched {
            Some((d, task)) => {
                eprintln!(
                    "round {round}: worker {victim_id} killed, task instance {task} \
                     re-dispatched after {:.2}s",
                    d.as_secs_f64()
                );
                samples.worker.push(d.as_secs_f64());
            }
            None => {
                samples.worker_missed += 1;
                eprintln!(
                    "round {round}: no task of worker {victim_id} re-dispatched within {give_up:?}"
                );
            }
        }
        restart(c, Role::Worker, victim, killed_at).await?;

        stop_all(c, &ids).await?;
    }
    Ok(())
}

/// Starts instances until both masters own a running one (or [`MAX_INSTANCES`] are started)
/// and every worker runs a task (a master that saw only one worker when it dispatched puts
/// all of an instance's tasks there); returns their ids.
async fn start_round(c: &mut Running) -> anyhow::Result<Vec<i64>> {
    let mut ids = Vec::new();
    for _ in 0..2 {
        ids.push(c.api.start_instance(WORKFLOW).await?);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last_start = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        c.check_alive()?;
        let views = instances(c, &ids).await?;
        let owned = owners(&views);
        let running = running(&views);
        let (masters, workers) = c.addresses();
        let all_masters = masters.iter().all(|m| owned.contains_key(m));
        let all_workers = workers.iter().all(|w| running.contains_key(w));
        let settled = views
            .values()
            .all(|v| v.state == "running" && v.owner.is_some());
        if all_workers && settled && (all_masters || ids.len() >= MAX_INSTANCES) {
            if !all_masters {
                eprintln!(
                    "note: after {} instances only {:?} own any; killing one of them",
                    ids.len(),
                    owned.keys().collect::<Vec<_>>()
                );
            }
            return Ok(ids);
        }
        if !(all_masters && all_workers)
            && settled
            && ids.len() < MAX_INSTANCES
            && last_start.elapsed() > Duration::from_secs(1)
        {
            ids.push(c.api.start_instance(WORKFLOW).await?);
            last_start = Instant::now();
        }
        if Instant::now() > deadline {
            bail!(
                "the round's instances did not all start running on both workers within a \
                 minute: owners {owned:?}, running tasks per worker {:?}",
                running
                    .iter()
                    .map(|(w, t)| (w.clone(), t.len()))
                    .collect::<BTreeMap<_, _>>()
            );
        }
    }
}

/// Stops the instances and waits until they have ended, so that the cluster stays small.
async fn stop_all(c: &mut Running, ids: &[i64]) -> anyhow::Result<()> {
    for id in ids {
        let (status, v) = c
            .api
            .post(&format!("/instances/{id}/stop"), &Value::Null)
            .await?;
        // 409: it has already ended.
        if !status.is_success() && status != reqwest::StatusCode::CONFLICT {
            bail!("stopping instance {id}: {status}: {v}");
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let views = instances(c, ids).await?;
        if views.values().all(|v| is_final(&v.state)) {
            return Ok(());
        }
        if Instant::now() > deadline {
            let states: BTreeMap<i64, String> =
                views.iter().map(|(i, v)| (*i, v.state.clone())).collect();
            bail!("the round's instances did not stop within a minute: {states:?}");
        }
        c.check_alive()?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Starts a killed role again (same address, same data directory) and waits until its new
/// registration shows, then two heartbeat intervals more, for the masters' views.
async fn restart(c: &mut Running, role: Role, i: usize, killed_at: i64) -> anyhow::Result<()> {
    let heartbeat = c.heartbeat_interval();
    let p = c.role(role, i)?;
    let id = p.address.clone();
    p.spawn()?;
    let cluster = c.cluster().context("failover runs on a cluster")?;
    tokio::task::block_in_place(|| cluster.wait_registered(Some((&id, killed_at))))?;
    tokio::time::sleep(heartbeat * 2).await;
    Ok(())
}
