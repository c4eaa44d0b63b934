// The web UI in a real browser against a real Baton: log in, see a workflow's DAG, start
// it and watch every node turn succeeded live, read a task's log, and a viewer who cannot
// start. A screenshot of each page goes to target/ui-screenshots/.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { ADMIN_PASSWORD, SHOTS, applyWorkflows, browser, cliLogin, loggedInPage, startBaton, until } from "./harness.mjs";

let baton;
let chrome;
const cspViolations = [];

before(async () => {
  await mkdir(SHOTS, { recursive: true });
  baton = await startBaton();
  await cliLogin(baton);
  await baton.cli(["user", "create", "vera", "--password-stdin"], "vera-viewer-pass-1\n");
  await baton.cli(["project", "member", "add", "demo", "vera", "--role", "viewer"]);
  chrome = await browser();
});

after(async () => {
  await chrome?.close();
  await baton?.stop();
});

/** A page logged in as `user` (the admin unless said), in the light or dark scheme; the
 * filled login form is photographed. */
const page = ({ colorScheme = "light", user = "admin", password = ADMIN_PASSWORD } = {}) =>
  loggedInPage(chrome, baton, { context: { colorScheme }, csp: cspViolations, user, password, beforeSubmit: (p) => shot(p, `login-${user}`) });

const shot = (p, name) => p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });

test("an admin logs in, sees a DAG, starts the workflow and watches it succeed live, then reads a log", async () => {
  const p = await page();
  // Printed, not asserted: what the first page load transferred (the DAG, instance and log
  // pages are separate chunks, loaded on first use).
  const js = await p.evaluate(() =>
    performance
      .getEntriesByType("resource")
      .filter((e) => e.name.endsWith(".js"))
      .reduce((sum, e) => sum + e.transferSize, 0),
  );
  console.log(`first page load: ${(js / 1024).toFixed(0)} KiB of JavaScript (as sent: the server compresses it)`);
  await p.getByRole("link", { name: "demo", exact: true }).waitFor();
  await shot(p, "projects");

  await p.getByRole("link", { name: "demo", exact: true }).click();
  await p.getByRole("link", { name: "etl-retry" }).waitFor();
  await shot(p, "workflows");

  await p.getByRole("link", { name: "etl-retry" }).click();
  for (const task of ["extract", "clean", "enrich", "load"]) await p.getByTestId(`node-${task}`).waitFor();
  await p.getByTestId("node-extract").click();
  await p.getByTestId("task-panel").getByText("retries").waitFor();
  assert.match(p.url(), /task=extract/);
  await shot(p, "workflow-dag");
  await p.getByRole("tab", { name: "YAML" }).click();
  await p.getByTestId("yaml").getByText("failure_strategy: end").waitFor();
  await shot(p, "workflow-yaml");
  await p.getByRole("tab", { name: "DAG" }).click();

  await p.getByTestId("start").click();
  const dialog = p.getByRole("dialog", { name: "Start" });
  await dialog.waitFor();
  assert.equal(await dialog.getByLabel("dt", { exact: true }).inputValue(), "20260101");
  await dialog.getByLabel("dt", { exact: true }).fill("20260301");
  await shot(p, "start-dialog");
  await dialog.getByRole("button", { name: "Start" }).click();
  await p.waitForURL(/\/instances\/\d+/);
  await p.getByTestId("stream-status").filter({ hasText: "live" }).waitFor();

  // Every node turns succeeded without a reload: the page follows the event stream.
  const states = async () =>
    p.$$eval("[data-testid^=node-]", (nodes) => nodes.map((n) => `${n.getAttribute("data-testid")}=${n.getAttribute("data-state")}`));
  let seenRunning = false;
  await until(
    "every node succeeded",
    async () => {
      const s = await states();
      if (s.some((x) => /=(running|dispatched|retry_wait|failed)$/.test(x))) seenRunning = true;
      return s.length === 4 && s.every((x) => x.endsWith("=succeeded"));
    },
    60_000,
    50,
  );
  assert.ok(seenRunning, "the page showed the run in progress, not only its end");
  await p.getByTestId("instance-state").getByText("succeeded").waitFor();
  // The task list (read again on the events) agrees: four task instances, each succeeded.
  await until("the task list to show every task succeeded", async () => {
    const rows = await p.$$eval("[data-testid=tasks] [data-task]", (rs) =>
      rs.map((r) => `${r.querySelector("[data-testid^=log-]") ? "ran" : "none"}:${r.querySelector("[data-state]")?.getAttribute("data-state")}`),
    );
    return rows.length === 4 && rows.every((s) => s === "ran:succeeded");
  });
  await shot(p, "instance-live");

  // The log of the extract task: its second attempt (the first fails on purpose).
  await p.getByTestId("log-extract").click();
  await p.waitForURL(/\/task-instances\/\d+\/log/);
  await p.getByTestId("log").getByText("42 rows").waitFor();
  await until("the whole log read", async () => (await p.getByTestId("log").getAttribute("data-complete")) === "true");
  await p.fill("input[placeholder=Search]", "rows");
  await p.locator(".log-line.hit").first().waitFor();
  await shot(p, "log");
  const [download] = await Promise.all([p.waitForEvent("download"), p.getByRole("link", { name: "Download" }).click()]);
  const saved = await readFile(await download.path(), "utf8");
  assert.match(saved, /42 rows\n$/);
  assert.match(download.suggestedFilename(), /^task-\d+-attempt-2\.log$/);
  await p.locator("select").first().selectOption("1");
  await p.getByTestId("log").getByText("source not ready yet").waitFor();

  // The instances list of the project shows the run, filtered by state.
  await p.goto(`${baton.url}/projects/demo/instances?state=succeeded`);
  await p.getByTestId("instances").getByText("etl-retry").first().waitFor();
  await shot(p, "instances");

  // A narrow window: the page itself does not scroll sideways (wide tables scroll in place).
  await p.setViewportSize({ width: 420, height: 800 });
  for (const path of ["/projects/demo", "/projects/demo/instances", "/projects/demo/workflows/etl-retry"]) {
    await p.goto(`${baton.url}${path}`);
    await p.locator("main h2").first().waitFor();
    const wide = await p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(wide <= 0, `${path} scrolls sideways by ${wide}px at 420px`);
  }
  await p.getByTestId("node-extract").waitFor();
  await shot(p, "workflow-narrow");
  await p.setViewportSize({ width: 1280, height: 800 });

  // A tab opened by hand gets the CSRF token from this one, and stays logged in.
  const other = await p.context().newPage();
  await other.goto(`${baton.url}/projects/demo`);
  await until("the new tab's CSRF token", () => other.evaluate(() => sessionStorage.getItem("baton.csrf")));
  assert.match(other.url(), /\/projects\/demo$/);
  await p.context().close();
});

test("a viewer sees the workflow but no Start or Backfill button, no audit link (in the dark theme)", async () => {
  const p = await page({ colorScheme: "dark", user: "vera", password: "vera-viewer-pass-1" });
  await p.goto(`${baton.url}/projects/demo/workflows/etl-retry`);
  await p.getByTestId("node-extract").waitFor();
  assert.equal(await p.getByTestId("start").count(), 0);
  assert.equal(await p.getByTestId("backfill").count(), 0);
  assert.equal(await p.getByRole("link", { name: "Audit" }).count(), 0, "the audit log is for admins");
  const background = await p.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(background, "rgb(20, 23, 28)", "the dark theme follows prefers-color-scheme");
  await shot(p, "viewer-workflow-dark");
  await p.getByRole("button", { name: "Log out" }).click();
  await p.waitForURL(/\/login/);
  await p.goto(`${baton.url}/projects`);
  await p.waitForURL(/\/login\?next=/);
  await p.context().close();
});

test("the instance page says it is reconnecting while the server is away, then follows again", async () => {
  const id = (await baton.cli(["workflow", "start", "hello", "--wait"])).trim().split(/\s+/)[0];
  assert.match(id, /^\d+$/);
  const p = await page();
  await p.goto(`${baton.url}/instances/${id}`);
  await p.getByTestId("stream-status").filter({ hasText: "live" }).waitFor();
  const restarted = baton.restart();
  await p.getByTestId("stream-status").filter({ hasText: "reconnecting…" }).waitFor({ timeout: 30_000 });
  await restarted;
  await p.getByTestId("stream-status").filter({ hasText: "live" }).waitFor({ timeout: 30_000 });
  // The session outlived the restart: an action still goes through (with its CSRF token),
  // and the rerun's own page follows it to its end.
  await p.getByTestId("action-rerun").click();
  await p.waitForURL((u) => /\/instances\/\d+$/.test(u.pathname) && !u.pathname.endsWith(`/${id}`));
  await p.getByTestId("instance-state").locator("[data-state=succeeded]").waitFor({ timeout: 30_000 });
  await p.context().close();
});

test("a log is followed while its task prints, with its colours", async () => {
  await applyWorkflows(baton, {
    ticker: [
      "name: ticker",
      "project: demo",
      "tasks:",
      "  - name: tick",
      "    type: shell",
      "    script: |",
      "      for i in 1 2 3 4 5 6 7 8 9 10; do printf '\\033[32mtick %s\\033[0m\\n' \"$i\"; sleep 0.5; done",
      "      printf '\\033[1;31mbold red starts\\nstill red\\033[0m\\n'",
      "      echo done ticking",
      "",
    ].join("\n"),
  });
  const p = await page();
  const id = (await baton.cli(["workflow", "start", "ticker", "--project", "demo"])).trim().split(/\s+/)[0];
  await p.goto(`${baton.url}/instances/${id}`);
  await p.getByTestId("log-tick").click();
  const log = p.getByTestId("log");
  // A line shows while the task still runs (the log is not complete yet)…
  await log.getByText("tick 1").waitFor();
  assert.equal(await log.getAttribute("data-complete"), "false", "the first line came while the task ran");
  assert.equal(await log.locator(".ansi-green-fg").first().textContent(), "tick 1");
  await shot(p, "log-following");
  // …and the rest follow without a reload, to the end.
  await log.getByText("done ticking").waitFor({ timeout: 30_000 });
  await until("the log complete", async () => (await log.getAttribute("data-complete")) === "true");
  // Bold (a class, not a style the CSP would drop) and a colour carried to the next line.
  const style = async (text) =>
    log.getByText(text).evaluate((e) => ({ weight: getComputedStyle(e).fontWeight, color: getComputedStyle(e).color }));
  const starts = await style("bold red starts");
  assert.equal(starts.weight, "700");
  assert.deepEqual(await style("still red"), starts, "the line below keeps the colour and the weight");
  assert.notEqual((await style("done ticking")).color, starts.color, "a reset ends them");
  await p.context().close();
});

test("the page kept to its Content-Security-Policy", () => {
  assert.deepEqual(cspViolations, []);
});
