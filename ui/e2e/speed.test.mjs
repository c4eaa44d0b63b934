// The web UI's speed figures against a real Baton, printed, not asserted as timings (the
// README's Web UI section quotes them): a 200-task instance followed live (task events a
// second the page took in, its frame rate), and the instances list of a project with
// 100,000 instances (its first page). What is asserted is what they measure: the tasks'
// events reached the page and the instance ended succeeded in it; the list's first page
// shows the newest instance.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { SHOTS, applyWorkflows, browser, cliLogin, loggedInPage, startBaton } from "./harness.mjs";

let baton;
let chrome;

/** 200 tasks: a gate (a shell task that waits for the file `go`, so that the page is
 * following before the rest run), then 199 noop tasks in 20 lanes: many end at once. */
const wide = (go) => `name: wide
project: speed
tasks:
  - {name: gate, type: shell, command: 'for i in $(seq 2400); do [ -e ${go} ] && exit 0; sleep 0.05; done; exit 1'}
${Array.from({ length: 199 }, (_, i) => `  - {name: t${i + 1}, type: noop, depends_on: [${i < 20 ? "gate" : `t${i - 19}`}]}`).join("\n")}
`;
const HISTORY = 100_000;

before(async () => {
  await mkdir(SHOTS, { recursive: true });
  baton = await startBaton();
  await cliLogin(baton);
  await baton.cli(["project", "create", "speed"]);
  await baton.cli(["project", "create", "history"]);
  await applyWorkflows(baton, {
    wide: wide(join(baton.dir, "go")),
    busy: "name: busy\nproject: history\ntasks:\n  - {name: a, type: noop}\n",
  });
  chrome = await browser();
});

after(async () => {
  await chrome?.close();
  await baton?.stop();
});

/** Every event the page's event stream delivers, with when it came. */
const countEvents = (context) =>
  context.addInitScript(() => {
    window.__events = [];
    const Native = window.EventSource;
    window.EventSource = class extends Native {
      constructor(...args) {
        super(...args);
        this.addEventListener("message", () => window.__events.push(performance.now()));
      }
    };
  });

const page = () => loggedInPage(chrome, baton, { init: countEvents, timeout: 60_000 });

test("a 200-task instance followed live: events a second taken in, frames a second (printed)", async () => {
  const p = await page();
  const id = (await baton.cli(["workflow", "start", "wide", "--project", "speed"])).trim().split(/\s+/)[0];
  await p.goto(`${baton.url}/instances/${id}`);
  await p.getByTestId("stream-status").filter({ hasText: "live" }).waitFor();
  await p.getByTestId("instance-state").filter({ hasText: "running" }).waitFor();
  await p.evaluate(() => {
    window.__events.length = 0;
    window.__frames = [];
    const tick = (t) => {
      window.__frames.push(t);
      if (!window.__stopFrames) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  await writeFile(join(baton.dir, "go"), "");
  await p.getByTestId("instance-state").filter({ hasText: "succeeded" }).waitFor();
  const f = await p.evaluate(() => {
    window.__stopFrames = true;
    const ev = window.__events;
    const fr = window.__frames;
    const gaps = fr.slice(1).map((t, i) => t - fr[i]);
    const span = ev.length > 1 ? ev[ev.length - 1] - ev[0] : 0;
    // Frames while events came.
    const during = fr.filter((t) => t >= ev[0] && t <= ev[ev.length - 1]);
    return {
      events: ev.length,
      span,
      fps: span ? (during.length / span) * 1000 : 0,
      worst: gaps.length ? Math.max(...gaps) : 0,
      frames: fr.length,
    };
  });
  await p.screenshot({ path: join(SHOTS, "instance-200-live.png") });
  console.log(
    `200-task instance live: ${f.events} events taken in over ${(f.span / 1000).toFixed(1)} s ` +
      `(${f.span ? ((f.events / f.span) * 1000).toFixed(0) : "-"} events/s), ${f.fps.toFixed(0)} frames/s meanwhile, longest frame ${f.worst.toFixed(0)} ms`,
  );
  // Each of the 199 tasks after the gate ends: at least one event each.
  assert.ok(f.events >= 199, `the page took in ${f.events} events of 200 tasks`);
  await p.context().close();
});

/** Writes `n` ended instances of workflow `busy` into the store of the stopped server
 * (SQLite, through python3's sqlite3: one transaction, the way `baton-bench history` fills
 * one), oldest first, a minute apart. */
async function fillHistory(n) {
  const db = join(baton.dir, "data", "baton.db");
  const script = `
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
wf, version = db.execute("SELECT id, latest_version FROM workflow WHERE project = 'history' AND name = 'busy'").fetchone()
now = int(time.time() * 1e6)
n = int(sys.argv[2])
rows = ((wf, version, 'history', 'busy', 'failed' if i % 25 == 1 else 'succeeded', '{}', 'medium', now - (n - i) * 60_000_000) for i in range(n))
db.executemany("INSERT INTO workflow_instance (workflow_id, version, project, name, state, params, priority, submitted_at, started_at, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", ((*r, r[7], r[7] + 1_000_000) for r in rows))
db.commit()
db.execute("ANALYZE")
db.close()
`;
  await promisify(execFile)("python3", ["-c", script, db, String(n)]);
}

test("the instances list of a project with 100,000 instances: its first page (printed)", async () => {
  const filled = Date.now();
  await baton.restart({ signal: "SIGTERM", stopped: () => fillHistory(HISTORY) });
  const fillMs = Date.now() - filled;
  const p = await page();
  const figures = [];
  for (const round of ["first", "second"]) {
    const opened = Date.now();
    await p.goto(`${baton.url}/projects/history/instances`);
    await p.getByTestId("instances").locator("tbody tr").first().waitFor();
    const shown = Date.now() - opened;
    const api = await p.evaluate(() =>
      performance
        .getEntriesByType("resource")
        .filter((e) => /\/api\/v1\/instances\?/.test(e.name))
        .map((e) => e.duration),
    );
    figures.push(`${round} visit shown in ${shown} ms (its API page in ${api.map((d) => d.toFixed(0)).join(", ")} ms)`);
  }
  // The newest first: the last one written is the first row.
  const firstRow = await p.getByTestId("instances").locator("tbody tr").first().innerText();
  assert.match(firstRow, /busy/);
  await p.screenshot({ path: join(SHOTS, "instances-100000.png") });
  console.log(`instances list, ${HISTORY.toLocaleString("en")} instances (filled in ${fillMs} ms with a restart): ${figures.join("; ")}`);
  await p.context().close();
});
