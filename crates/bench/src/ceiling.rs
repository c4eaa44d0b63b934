//! `ceiling`: the same `bash -c true` commands as the shell fan-out, run through a plain pool
//! of processes without Baton (as `xargs -P S bash -c true` would): how fast this machine can
//! start them, the limit a shell fan-out is measured against.

use crate::args::CeilingArgs;
use crate::figures::{self, Figures};
use crate::target::SLOTS_PER_CORE;
use anyhow::Context;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Prints the ceiling for `--tasks` and `--slots`.
pub async fn run(args: &CeilingArgs) -> anyhow::Result<()> {
    let default = u32::try_from(SLOTS_PER_CORE * figures::cores()).unwrap_or(u32::MAX);
    let slots = args.slots.unwrap_or(default);
    let per_s = measure(args.tasks, slots as usize).await?;
    let mut f = Figures::default();
    f.add("workload", "ceiling");
    f.add("tasks", args.tasks);
    f.add("slots", slots);
    f.add("tasks_per_s", format!("{per_s:.1}"));
    f.print();
    Ok(())
}

/// Runs `n` × `bash -c true`, `slots` at a time; returns how many ended per second.
pub async fn measure(n: u32, slots: usize) -> anyhow::Result<f64> {
    let next = Arc::new(AtomicU32::new(0));
    let started = Instant::now();
    let runners: Vec<_> = (0..slots.max(1))
        .map(|_| {
            let next = next.clone();
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < n {
                    let status = tokio::process::Command::new("bash")
                        .args(["-c", "true"])
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status()
                        .await
                        .context("cannot run bash")?;
                    anyhow::ensure!(status.success(), "bash -c true: {status}");
                }
                Ok(())
            })
        })
        .collect();
    for r in runners {
        r.await??;
    }
    Ok(f64::from(n) / started.elapsed().as_secs_f64())
}
