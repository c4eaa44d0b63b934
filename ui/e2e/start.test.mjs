// The start dialog in a real browser against a real Baton: a form from the workflow's
// declared params (a select for an enum, a checkbox for a bool, the rule in words and the
// description), a value checked at its field before anything is sent, a server refusal
// shown at its field, the overrides of this one instance, a dry run listing the tasks in
// order (starting nothing), then the start, whose instance keeps the overrides.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { SHOTS, applyWorkflows, browser, cliLogin, loggedInPage, startBaton } from "./harness.mjs";

let baton;
let chrome;

const FILE = `name: declared
project: demo
params:
  rows: {type: int, min: 1, max: 10, required: true, description: how many rows to load}
  region: {enum: [eu, us], default: eu}
  dry: {type: bool, default: "false"}
  day: $[yyyyMMdd]
tasks:
  - {name: load, type: shell, command: 'echo \${rows} \${region} \${day}', depends_on: [extract]}
  - {name: extract, type: shell, command: 'echo \${dry}'}
`;

before(async () => {
  await mkdir(SHOTS, { recursive: true });
  baton = await startBaton();
  await cliLogin(baton);
  await applyWorkflows(baton, { declared: FILE });
  chrome = await browser();
});

after(async () => {
  await chrome?.close();
  await baton?.stop();
});

test("the start dialog: declared params, a check at the field, overrides, a dry run, then the start", async () => {
  const p = await loggedInPage(chrome, baton, { viewport: { width: 1280, height: 900 } });

  await p.goto(`${baton.url}/projects/demo/workflows/declared`);
  await p.getByTestId("start").click();
  const dialog = p.getByRole("dialog", { name: "Start" });
  await dialog.waitFor();
  // One field per declared param, each with the input its rule calls for.
  assert.equal(await dialog.getByLabel("region", { exact: true }).evaluate((e) => e.tagName), "SELECT");
  assert.equal(await dialog.getByLabel("region", { exact: true }).inputValue(), "eu");
  assert.equal(await dialog.getByLabel("dry", { exact: true }).getAttribute("type"), "checkbox");
  const rows = dialog.locator("[data-param=rows]");
  await rows.getByText("int from 1 to 10").waitFor();
  await rows.getByText("how many rows to load").waitFor();

  // A value that breaks its rule is shown at its field, and nothing is sent.
  await dialog.getByLabel("rows", { exact: true }).fill("11");
  await dialog.getByRole("button", { name: "Dry run" }).click();
  await rows.getByRole("alert").filter({ hasText: "more than 10" }).waitFor();
  await dialog.getByLabel("rows", { exact: true }).fill("3");
  await dialog.getByLabel("region", { exact: true }).selectOption("us");
  await dialog.getByLabel("dry", { exact: true }).check();

  // The server's refusal of an override is shown at that field.
  await dialog.getByLabel("worker group").fill("two words");
  await dialog.getByRole("button", { name: "Dry run" }).click();
  await dialog.locator("label", { has: p.getByLabel("worker group") }).getByRole("alert").filter({ hasText: "two words" }).waitFor();

  // The overrides and a dry run: the tasks in order, the group, the params, nothing started.
  await dialog.getByLabel("worker group").fill("gpu");
  await dialog.getByLabel("failure strategy").selectOption("continue");
  await dialog.getByLabel("priority").selectOption("high");
  await dialog.getByRole("button", { name: "Dry run" }).click();
  const dry = dialog.getByTestId("dry-run");
  await dry.waitFor();
  await dry.getByText("failure strategy continue, priority high").waitFor();
  const order = await dry.locator("[data-task]").evaluateAll((rs) => rs.map((r) => r.getAttribute("data-task")));
  assert.deepEqual(order, ["extract", "load"]);
  const load = dry.locator("[data-task=load]");
  assert.match(await load.innerText(), /gpu/);
  assert.match(await load.innerText(), /rows\s*=\s*3/);
  assert.match(await load.innerText(), /region\s*=\s*us/);
  assert.match(await load.innerText(), /day\s*=\s*known at run time/);
  await p.screenshot({ path: join(SHOTS, "start-dialog-dry-run.png") });
  const listed = await baton.cli(["instance", "list", "--workflow", "declared"]);
  assert.doesNotMatch(listed, /\bdeclared\b/, `a dry run starts nothing: ${listed}`);

  await dialog.getByRole("button", { name: "Start" }).click();
  await p.waitForURL(/\/instances\/\d+/);
  const id = p.url().match(/\/instances\/(\d+)/)[1];
  const shown = await baton.cli(["instance", "show", id]);
  assert.match(shown, /overrides failure_strategy=continue priority=high worker_group=gpu/);
  assert.match(shown, /params dry=true region=us rows=3/);
  await p.context().close();
});
