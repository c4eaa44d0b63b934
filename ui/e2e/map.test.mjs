// A mapped task's items in a real browser against a real Baton: a workflow maps 30 items,
// three of which fail (`failure: continue`); the items wait for a file the test writes, so
// the page is seen counting them while they are held and then, live, reaching their final
// counts in the DAG node, the task row and the Gantt, its items table filling in. The table
// is then filtered by state (kept in the URL) and a failed item's log opened from it.
// A second workflow of 250 noop items has the table read its second page when scrolled.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SHOTS, applyWorkflows, browser, cliLogin, loggedInPage, startBaton, until } from "./harness.mjs";

let baton;
let chrome;
const cspViolations = [];

const ITEMS = 30;
const FAILING = [4, 11, 23];
/** `list` prints the items 0..29; each item of `load` waits for `go`, then the FAILING ones fail. */
const mapped = (go) =>
  [
    "name: mapped",
    "project: maps",
    "tasks:",
    "  - name: list",
    "    type: shell",
    `    command: echo '\${setValue(parts=${JSON.stringify([...Array(ITEMS).keys()])})}'`,
    "  - name: load",
    "    type: shell",
    "    depends_on: [list]",
    "    map:",
    "      over: ${parts}",
    "      as: n",
    "      parallel: 4",
    "      failure: continue",
    "    command: |",
    `      for i in $(seq 2400); do [ -e ${go} ] && break; sleep 0.05; done`,
    `      case \${n} in ${FAILING.join("|")}) echo "item \${n} fails"; exit 3;; esac`,
    '      echo "item ${n} loaded"',
    "",
  ].join("\n");

/** 250 noop items: more than one page of the items table (200). */
const MANY = 250;
const many = [
  "name: many",
  "project: maps",
  "tasks:",
  "  - name: list",
  "    type: shell",
  `    command: echo '\${setValue(parts=${JSON.stringify([...Array(MANY).keys()])})}'`,
  "  - name: each",
  "    type: noop",
  "    depends_on: [list]",
  "    map:",
  "      over: ${parts}",
  "      as: n",
  "",
].join("\n");

before(async () => {
  await mkdir(SHOTS, { recursive: true });
  baton = await startBaton();
  await cliLogin(baton);
  await baton.cli(["project", "create", "maps"]);
  await applyWorkflows(baton, { mapped: mapped(join(baton.dir, "go")), many });
  chrome = await browser();
});

after(async () => {
  await chrome?.close();
  await baton?.stop();
});

const page = () => loggedInPage(chrome, baton, { viewport: { width: 1280, height: 1000 }, csp: cspViolations, timeout: 30_000 });

/** The text of the element `testId`, or "" while there is none. */
const text = async (p, testId) => ((await p.getByTestId(testId).count()) ? await p.getByTestId(testId).textContent() : "");

test("a mapped task's counts reach their final values live; its failed items are filtered and a log opened", async () => {
  const id = (await baton.cli(["workflow", "start", "mapped", "--project", "maps"])).trim().split(/\s+/)[0];
  const p = await page();
  await p.goto(`${baton.url}/instances/${id}`);
  // Held by the file: 4 running (parallel), the rest waiting, in the row and in the node.
  const held = "0 ✓ · 0 ✗ · 4 running · 26 waiting";
  await until(`the counts ${held}`, async () => (await text(p, "counts-load")) === held && (await text(p, "node-counts-load")) === held);
  // Its items table, opened while they are held: the 4 started.
  await p.locator('[data-testid="tasks"] [data-task="load"]').click();
  await p.waitForURL(/[?&]task=load/);
  await until("the 4 started items", async () => (await text(p, "items-shown")) === "4 shown");
  // The same page from here on: what follows arrives live, not by a reload.
  await p.evaluate(() => (window.__samePage = true));
  await writeFile(join(baton.dir, "go"), "");
  const done = `${ITEMS - FAILING.length} ✓ · ${FAILING.length} ✗ · 0 waiting`;
  await until(`the counts ${done}`, async () => (await text(p, "counts-load")) === done && (await text(p, "node-counts-load")) === done, 90_000);
  await until("all 30 items in the table, live", async () => (await text(p, "items-shown")) === `${ITEMS} shown`);
  assert.equal(await p.evaluate(() => window.__samePage), true);
  await p.getByTestId("instance-state").locator('[data-state="failed"]').waitFor();
  await until("the Gantt's items note", async () => (await text(p, "gantt-items-load")) === `${ITEMS} items, see the items table`);
  assert.equal(await p.locator('[data-testid^="bar-load["]').count(), 0, "no item is drawn in the Gantt");

  // The failed ones only, the filter in the URL.
  await p.getByTestId("items-filter").selectOption("failed");
  await p.waitForURL(/[?&]items=failed/);
  const failed = FAILING.map((i) => `load[${i}]`);
  const shown = () => p.locator("[data-item]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-item")));
  await until("the failed items only", async () => JSON.stringify(await shown()) === JSON.stringify(failed));
  await p.screenshot({ path: join(SHOTS, "map-items-failed.png"), fullPage: true });

  // The URL alone opens the same selection and filter.
  await p.goto(`${baton.url}/instances/${id}?task=load&items=failed`);
  await until("the failed items from the URL", async () => JSON.stringify(await shown()) === JSON.stringify(failed));
  assert.equal(await p.getByTestId("items-filter").inputValue(), "failed");

  // A failed item's log, from its row.
  await p.getByTestId("log-load[11]").click();
  await p.waitForURL(/\/task-instances\/\d+\/log/);
  await until("the item's log", async () => (await p.getByTestId("log").textContent())?.includes("item 11 fails"));
  await p.screenshot({ path: join(SHOTS, "map-item-log.png") });
  await p.context().close();
});

test("the items table reads the next page as it is scrolled to its end", async () => {
  const id = (await baton.cli(["workflow", "start", "many", "--project", "maps", "--wait"])).trim().split(/\s+/)[0];
  const p = await page();
  await p.goto(`${baton.url}/instances/${id}?task=each`);
  await until("the first page", async () => (await text(p, "items-shown")) === "200+ shown");
  await p.locator('[data-testid="items"] .vbody').evaluate((b) => (b.scrollTop = b.scrollHeight));
  await until("both pages", async () => (await text(p, "items-shown")) === `${MANY} shown`);
  await p.locator('[data-testid="items"] .vbody').evaluate((b) => (b.scrollTop = b.scrollHeight));
  await p.locator(`[data-item="each[${MANY - 1}]"]`).waitFor();
  await p.context().close();
});

test("no Content-Security-Policy violation on the pages above", () => {
  assert.deepEqual(cspViolations, []);
});
