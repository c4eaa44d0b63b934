// The web UI's second slice in a real browser against a real Baton: a backfill of three
// days followed to its end, a schedule's preview, the versions and grid tabs, the instance's
// Gantt, a failed instance recovered, the monitor, events and audit pages, and the 1,000-task DAG (its figures printed).
// A screenshot of each page goes to target/ui-screenshots/.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { ROOT, SHOTS, applyWorkflows, browser, cliLogin, loggedInPage, startBaton, until } from "./harness.mjs";

let baton;
let chrome;
const cspViolations = [];

before(async () => {
  await mkdir(SHOTS, { recursive: true });
  baton = await startBaton();
  await cliLogin(baton);
  chrome = await browser();
});

after(async () => {
  await chrome?.close();
  await baton?.stop();
});

/** A page logged in as the admin (at 1280×800 unless `viewport` says). */
const page = (viewport) => loggedInPage(chrome, baton, { viewport, csp: cspViolations });

const shot = (p, name) => p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });

test("a backfill of 3 days: its preview names the days, its page shows 3 instances and ends done", async () => {
  const p = await page();
  await p.goto(`${baton.url}/projects/default/workflows/hello`);
  await p.getByTestId("backfill").click();
  await p.getByTestId("backfill-from").fill("2026-01-01");
  await p.getByTestId("backfill-to").fill("2026-01-03");
  await p.getByTestId("backfill-count").filter({ hasText: "3 instances" }).waitFor();
  for (const d of ["2026-01-01", "2026-01-02", "2026-01-03"]) await p.getByTestId("backfill-preview").getByText(d).waitFor();
  await shot(p, "backfill-dialog");
  await p.getByTestId("backfill-submit").click();
  await p.waitForURL(/\/backfills\/\d+$/);
  await p.getByTestId("backfill-state").filter({ hasText: "done" }).waitFor({ timeout: 90_000 });
  await p.getByTestId("backfill-progress").filter({ hasText: "3 succeeded" }).waitFor();
  const links = await p.getByTestId("backfill-instances").locator("a").count();
  assert.equal(links, 3);
  await shot(p, "backfill");
  // The workflow's Runs tab lists its backfills.
  await p.goto(`${baton.url}/projects/default/workflows/hello?tab=runs`);
  await p.getByTestId("backfills").getByRole("link", { name: "#1" }).waitFor();
  await p.context().close();
});

test("a schedule's preview shows its next 10 fire times in its zone; an editor takes it offline", async () => {
  await applyWorkflows(baton, {
    hourly: [
      "name: hourly",
      "project: demo",
      "schedule:",
      "  cron: '30 */2 * * *'",
      "  timezone: Asia/Tokyo",
      "  misfire: skip",
      "tasks:",
      "  - {name: a, type: noop}",
      "",
    ].join("\n"),
  });
  const p = await page();
  await p.goto(`${baton.url}/projects/demo/schedules`);
  await p.getByTestId("schedules").getByRole("link", { name: "hourly" }).waitFor();
  await shot(p, "schedules");
  await p.getByTestId("schedules").getByRole("link", { name: "hourly" }).click();
  await p.waitForURL(/tab=schedule/);
  await p.getByTestId("cron-words").filter({ hasText: "every 2 hours" }).waitFor();
  await until("10 fire times", async () => (await p.getByTestId("schedule-preview").locator("li").count()) === 10, 20_000);
  const fires = await p.getByTestId("schedule-preview").locator("li").allTextContents();
  for (const f of fires) assert.match(f, /:30:00 \+09:00$/);
  await shot(p, "workflow-schedule");
  // The backfill dialog of a cron workflow previews its fires on the days asked (from the
  // server's schedule preview), in the schedule's zone: 12 on a day for every 2 hours.
  await p.getByTestId("backfill").click();
  await p.getByTestId("backfill-from").fill("2026-01-01");
  await p.getByTestId("backfill-to").fill("2026-01-01");
  await p.getByTestId("backfill-count").filter({ hasText: "12 instances" }).waitFor();
  await p.getByTestId("backfill-preview").getByText("Thu 2026-01-01 00:30:00 +09:00").waitFor();
  await p.getByRole("button", { name: "Cancel" }).click();
  await p.getByRole("button", { name: "Take offline: hourly" }).click();
  await p.getByTestId("online-hourly").filter({ hasText: "offline" }).waitFor();
  await p.context().close();
});

test("the versions tab shows a version's YAML and the diff of two; the grid colours runs × tasks", async () => {
  const source = await readFile(join(ROOT, "examples/hello.yaml"), "utf8");
  await applyWorkflows(baton, { hello: source.replace('echo "hello, ${who}"', 'echo "hi there, ${who}"') });
  const p = await page();
  await p.goto(`${baton.url}/projects/default/workflows/hello?tab=versions`);
  await p.getByTestId("version-yaml").getByText("hi there").waitFor();
  await p.getByRole("button", { name: "View v1" }).click();
  await p.waitForURL(/view=1/);
  await p.getByTestId("version-yaml").getByText('echo "hello, ${who}"').waitFor();
  // The radios follow the URL, so one is checked a moment after its click: wait for it.
  for (const label of ["Compare from v1", "Compare to v2"]) {
    const radio = p.getByLabel(label);
    if (!(await radio.isChecked())) await radio.click();
    await until(`${label} checked`, () => radio.isChecked(), 10_000);
  }
  await p.waitForURL(/a=1&b=2|b=2&a=1/);
  await p.getByTestId("diff-stat").filter({ hasText: "+1 −1" }).waitFor();
  await p.getByTestId("diff").locator(".dl.add").filter({ hasText: "hi there" }).waitFor();
  await shot(p, "workflow-versions");

  // The backfill above ran hello three times: 3 runs × 3 tasks, all succeeded.
  await p.getByRole("tab", { name: "Grid" }).click();
  await until("9 succeeded cells", async () => (await p.getByTestId("run-grid").locator('[data-state="succeeded"]').count()) === 9, 20_000);
  await shot(p, "workflow-grid");
  await p.context().close();
});

test("the instance's Gantt shows a retried task's two attempts; run from here starts a new instance; a sub-workflow's child is a link", async () => {
  const id = (await baton.cli(["workflow", "start", "etl-retry", "--project", "demo", "--wait"])).trim().split(/\s+/)[0];
  const p = await page();
  await p.goto(`${baton.url}/instances/${id}`);
  await p.getByTestId("instance-state").getByText("succeeded").waitFor();
  await p.getByTestId("bar-extract-1").and(p.locator('[data-state="failed"]')).waitFor();
  await p.getByTestId("bar-extract-2").and(p.locator('[data-state="succeeded"]')).waitFor();
  await p.getByTestId("bar-load-1").waitFor();
  await p.getByTestId("gantt").getByRole("button", { name: "clean" }).click();
  await p.waitForURL(/task=clean/);
  await shot(p, "instance-gantt");
  await p.getByTestId("run-from-here").click();
  await until("a new instance", async () => !p.url().endsWith(`/instances/${id}?task=clean`) && /\/instances\/\d+$/.test(p.url()), 20_000);
  assert.notEqual(p.url(), `${baton.url}/instances/${id}`);
  await p.getByTestId("instance-state").getByText("succeeded").waitFor({ timeout: 60_000 });
  // Only clean and its downstream ran.
  await p.getByTestId("node-extract").and(p.locator('[data-state="not_started"]')).waitFor();
  await p.getByTestId("node-load").and(p.locator('[data-state="succeeded"]')).waitFor();

  // nightly waits on today's etl-retry (done above), then runs branching as its child.
  const parent = (await baton.cli(["workflow", "start", "nightly", "--project", "demo", "--wait"])).trim().split(/\s+/)[0];
  await p.goto(`${baton.url}/instances/${parent}?task=branches`);
  await p.getByTestId("child-link").click();
  await p.waitForURL(/\/instances\/\d+$/);
  await p.getByRole("link", { name: `#${parent}` }).waitFor();
  await p.context().close();
});

test("a failing task, then Recover: the instance runs the failed task again and succeeds", async () => {
  const flag = join(baton.dir, "recover-flag");
  await applyWorkflows(baton, {
    flaky: [
      "name: flaky",
      "project: demo",
      "tasks:",
      "  - {name: first, type: noop}",
      `  - {name: needs-flag, type: shell, depends_on: [first], command: 'test -e ${flag} || { echo no flag yet; exit 3; }'}`,
      "  - {name: after, type: noop, depends_on: [needs-flag]}",
      "",
    ].join("\n"),
  });
  const id = (await baton.cli(["workflow", "start", "flaky", "--project", "demo"])).trim().split(/\s+/)[0];
  const p = await page();
  await p.goto(`${baton.url}/instances/${id}`);
  await p.getByTestId("instance-state").getByText("failed").waitFor({ timeout: 60_000 });
  await p.getByTestId("node-needs-flag").and(p.locator('[data-state="failed"]')).waitFor();
  await p.getByTestId("node-after").and(p.locator('[data-state="not_started"]')).waitFor();
  await writeFile(flag, "");
  await p.getByTestId("action-recover").click();
  await p.getByTestId("instance-state").getByText("succeeded").waitFor({ timeout: 60_000 });
  await p.getByTestId("node-needs-flag").and(p.locator('[data-state="succeeded"]')).waitFor();
  await p.getByTestId("node-after").and(p.locator('[data-state="succeeded"]')).waitFor();
  // The same instance: the failed task ran a second attempt, the one that succeeded did not run again.
  assert.match(p.url(), new RegExp(`/instances/${id}$`));
  await p.getByTestId("bar-needs-flag-2").and(p.locator('[data-state="succeeded"]')).waitFor();
  assert.equal(await p.getByTestId("bar-first-2").count(), 0, "first did not run again");
  await shot(p, "instance-recovered");
  await p.context().close();
});

test("the monitor lists the standalone's master and worker; the events page filters and follows live; the audit log", async () => {
  const p = await page();
  await p.getByRole("link", { name: "Monitor" }).click();
  await p.waitForURL(/\/monitor$/);
  await p.getByTestId("member-master").first().waitFor();
  // The standalone's master (its worker runs in the same process and may not be listed).
  assert.match(await p.getByTestId("member-master").first().innerText(), /\d+ s ago/);
  await shot(p, "monitor");

  await baton.cli(["workflow", "start", "hello", "--wait"]);
  await p.goto(`${baton.url}/events`);
  await p.getByTestId("kind-filter").selectOption("task_succeeded");
  await p.waitForURL(/kind=task_succeeded/);
  await p.getByTestId("events").locator('tr[data-kind="task_succeeded"]').first().waitFor();
  assert.equal(await p.getByTestId("events").locator('tbody tr:not([data-kind="task_succeeded"])').count(), 0);
  // Live: an instance started now shows its events without a reload.
  await p.goto(`${baton.url}/events?project=default&workflow=hello`);
  await p.getByTestId("stream-status").filter({ hasText: "live" }).waitFor();
  const before = await p.getByTestId("events").locator('tr[data-kind="instance_succeeded"]').count();
  await baton.cli(["workflow", "start", "hello", "--wait"]);
  await until(
    "the new instance's end, live",
    async () => (await p.getByTestId("events").locator('tr[data-kind="instance_succeeded"]').count()) > before,
    30_000,
  );
  await shot(p, "events");

  await p.getByRole("link", { name: "Audit" }).click();
  await p.waitForURL(/\/audit$/);
  await p.getByTestId("audit").locator("tbody tr").first().waitFor();
  await shot(p, "audit");
  await p.context().close();
});

/** A workflow of `n` noop tasks in layers of 25, each task after one or two of the layer
 * before. */
function bigWorkflow(n) {
  const lines = ["name: big", "project: demo", "tasks:"];
  for (let i = 0; i < n; i++) {
    const layer = Math.floor(i / 25);
    const deps = layer === 0 ? [] : [...new Set([(layer - 1) * 25 + (i % 25), (layer - 1) * 25 + ((i * 7) % 25)])];
    lines.push(`  - {name: t${i}, type: noop${deps.length ? `, depends_on: [${deps.map((d) => `t${d}`).join(", ")}]` : ""}}`);
  }
  return lines.join("\n") + "\n";
}

test("the 1,000-task DAG: how long it takes to render and become interactive (printed, not asserted)", async () => {
  await applyWorkflows(baton, { big: bigWorkflow(1000) });
  const p = await page();
  // A first visit of the workflow page loads its chunks; the figures are of the second,
  // as a user who opens a workflow meets it (and of the first load, printed apart).
  const figures = [];
  for (const round of ["first", "second"]) {
    await p.goto(`${baton.url}/projects`);
    await p.getByRole("link", { name: "demo", exact: true }).waitFor();
    const t0 = Date.now();
    await p.goto(`${baton.url}/projects/demo/workflows/big`);
    await p.locator('[data-testid="dag"] .react-flow__node').first().waitFor();
    const rendered = Date.now() - t0;
    // Interactive: a click on a node selects it and opens its panel.
    await p.locator('[data-testid="dag"] .react-flow__node').first().click();
    await p.getByTestId("task-panel").waitFor();
    const interactive = Date.now() - t0;
    const nodes = await p.locator('[data-testid="dag"] .react-flow__node').count();
    const layout = await p.evaluate(() => Math.round(performance.getEntriesByName("baton:dag-layout").at(-1)?.duration ?? -1));
    // The JavaScript this visit loaded: as sent (the server sends no gzip) and gzipped.
    const scripts = await p.evaluate(() =>
      performance
        .getEntriesByType("resource")
        .filter((e) => e.name.endsWith(".js"))
        .map((e) => ({ path: new URL(e.name).pathname, sent: e.transferSize })),
    );
    let sent = 0;
    let gz = 0;
    for (const js of scripts) {
      sent += js.sent;
      gz += gzipSync(await readFile(join(ROOT, "ui/dist", js.path))).length;
    }
    figures.push({ round, rendered, interactive, nodes, layout, sent, gz });
  }
  for (const f of figures) {
    console.log(
      `1,000-task DAG (${f.round} visit): rendered in ${f.rendered} ms (its layout ${f.layout} ms), interactive in ${f.interactive} ms, ${f.nodes} nodes in the page; ` +
        `its JavaScript: ${(f.gz / 1024).toFixed(0)} KiB gzipped, ${(f.sent / 1024).toFixed(0)} KiB over the wire (a cached file counts 0; the server sends no gzip)`,
    );
  }
  assert.match(p.url(), /task=t\d+/);
  await shot(p, "workflow-dag-1000");
  await p.context().close();
});

test("the new pages do not scroll sideways in a narrow window", async () => {
  const p = await page({ width: 420, height: 800 });
  for (const [path, ready] of [
    ["/projects/demo/schedules", "schedules"],
    ["/monitor", "members"],
    ["/events", "events"],
    ["/backfills/1", "backfill-instances"],
    ["/projects/default/workflows/hello?tab=versions&a=1&b=2", "diff"],
    ["/projects/default/workflows/hello?tab=grid", "run-grid"],
  ]) {
    await p.goto(`${baton.url}${path}`);
    await p.getByTestId(ready).waitFor();
    const wide = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(wide <= 0, `${path} scrolls sideways by ${wide} px`);
  }
  await shot(p, "workflow-grid-narrow");
  await p.context().close();
});

test("the pages kept to their Content-Security-Policy", () => {
  assert.deepEqual(cspViolations, []);
});
