// The lists in a real browser against a real Baton: the workflows list (its last runs as
// coloured squares, sorted by a column, searched), the projects list's counts, and a bulk
// stop on the instances list with a result per row.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { SHOTS, applyWorkflows, browser, cliLogin, loggedInPage, startBaton, until } from "./harness.mjs";

let baton;
let chrome;
const ids = {};

const files = {
  fast: "name: fast\nproject: lists\ntasks:\n  - {name: a, type: noop}\n",
  slow: "name: slow\nproject: lists\ntasks:\n  - {name: a, type: shell, command: 'sleep 1000'}\n",
  bad: "name: bad\nproject: lists\ntasks:\n  - {name: a, type: shell, command: 'false'}\n",
};

const start = async (name, wait) => {
  const args = ["workflow", "start", name, "--project", "lists"];
  const out = await baton.cli(wait ? [...args, "--wait"] : args).catch((e) => (wait ? String(e.message) : Promise.reject(e)));
  return out;
};

before(async () => {
  await mkdir(SHOTS, { recursive: true });
  baton = await startBaton();
  await cliLogin(baton);
  await baton.cli(["project", "create", "lists"]);
  await applyWorkflows(baton, files);
  for (let n = 0; n < 3; n++) await start("fast", true);
  await start("bad", true); // exits 1: the instance failed
  ids.slow = [Number(await start("slow")), Number(await start("slow"))];
  chrome = await browser();
});

after(async () => {
  await chrome?.close();
  await baton?.stop();
});

const page = () => loggedInPage(chrome, baton);

const rowOrder = (p) => p.locator("[data-testid=workflows] tbody tr").evaluateAll((rs) => rs.map((r) => r.getAttribute("data-workflow")));

test("the workflows list: the last runs as squares, sorted by a column, searched; the projects' counts", async () => {
  const p = await page();
  const lists = p.locator("[data-testid=projects] [data-project=lists]");
  await until("the counts of the project", async () => (await lists.locator("[data-count=running]").innerText()) === "2", 20_000);
  assert.equal(await lists.locator("[data-count=workflows]").innerText(), "3");
  assert.equal(await lists.locator("[data-count=failed]").innerText(), "1");

  await p.goto(`${baton.url}/projects/lists`);
  const squares = (name) => p.getByTestId(`squares-${name}`).locator(".square").evaluateAll((s) => s.map((x) => x.getAttribute("data-state")));
  await until("the squares of fast", async () => (await squares("fast")).join() === "succeeded,succeeded,succeeded");
  assert.deepEqual(await squares("bad"), ["failed"]);
  assert.deepEqual(await squares("slow"), ["running", "running"]);
  await p.screenshot({ path: join(SHOTS, "workflows-list.png") });

  // A click or a keystroke re-renders the list a moment later: wait for the order it makes.
  const ordered = (want, what) => until(what, async () => (await rowOrder(p)).join() === want.join(), 10_000);
  await ordered(["bad", "fast", "slow"], "by name at first");
  await p.locator("button[data-sort=name]").click();
  await ordered(["slow", "fast", "bad"], "by name, descending");
  await p.locator("button[data-sort=state]").click();
  await ordered(["bad", "slow", "fast"], "by the last run's state");
  assert.match(p.url(), /sort=state/);
  await p.fill("input.search", "FA");
  await ordered(["fast"], "the search");
});

test("a bulk stop stops what can stop and says, row by row, what it did", async () => {
  const p = await page();
  await p.goto(`${baton.url}/projects/lists/instances`);
  await p.locator("[data-testid=instances] tbody tr").nth(5).waitFor();
  await p.getByLabel("select every instance of the page").check();
  await p.getByRole("button", { name: "Stop selected" }).click();
  await p.getByTestId("bulk-summary").filter({ hasText: "2 done, 4 skipped" }).waitFor();
  for (const id of ids.slow) {
    const row = p.locator(`[data-instance="${id}"] [data-result]`);
    assert.equal(await row.getAttribute("data-result"), "done");
  }
  const skipped = await p.locator("[data-result=skipped]").allInnerTexts();
  assert.equal(skipped.length, 4);
  assert.ok(skipped.some((t) => /succeeded instance cannot be stopped/.test(t)), skipped.join("\n"));
  await p.screenshot({ path: join(SHOTS, "instances-bulk-stop.png") });
  for (const id of ids.slow) {
    await until(`instance ${id} to stop`, async () => /state stopped/.test(await baton.cli(["instance", "show", String(id)])), 30_000);
  }
});
