// The workflow editor in a real browser against a real Baton: a workflow of three tasks made
// in the graph, a bad duration shown where it is in both views, fixed, saved as version 1;
// an edit in the YAML saved as version 2, a comment only as "unchanged"; leaving with
// unsaved edits asks first; a viewer is offered no editing. Screenshots go to
// target/ui-screenshots/ (editor-*.png).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { ROOT, SHOTS, browser, cliLogin, loggedInPage, startBaton, until } from "./harness.mjs";

let baton;
let chrome;
const cspViolations = [];

before(async () => {
  await mkdir(SHOTS, { recursive: true });
  baton = await startBaton();
  await cliLogin(baton);
  await baton.cli(["user", "create", "olga", "--password-stdin"], "olga-operator-pass-1\n");
  await baton.cli(["project", "member", "add", "demo", "olga", "--role", "operator"]);
  chrome = await browser();
});

after(async () => {
  await chrome?.close();
  await baton?.stop();
});

/** A page logged in as `user` (the admin unless said). */
const page = (user, password) => loggedInPage(chrome, baton, { viewport: { width: 1400, height: 900 }, csp: cspViolations, user, password });

const shot = (p, name) => p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });

/** Drags an edge from `from`'s bottom handle to `to`'s top handle. */
async function drawEdge(p, from, to) {
  const source = p.getByTestId(`node-${from}`).locator(".react-flow__handle.source");
  const target = p.getByTestId(`node-${to}`).locator(".react-flow__handle.target");
  const a = await source.boundingBox();
  const b = await target.boundingBox();
  await p.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await p.mouse.down();
  await p.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 12 });
  await p.mouse.up();
}

/** Renames the selected task through its form. */
async function rename(p, to) {
  const name = p.getByTestId("task-form").locator("#field-name");
  await name.fill(to);
  await name.press("Enter");
  await p.getByTestId(`node-${to}`).waitFor();
}

/** Shows the editor's view `name` ("YAML", "Graph"): its own tab, found once the editor is
 * there (after "Edit", the workflow page, which has a "YAML" tab of its own, may still be
 * on screen while the editor loads). */
const view = (p, name) => p.getByTestId("editor-tabs").getByRole("tab", { name }).click();
const yamlText = (p) => p.locator('[data-testid="yaml-editor"] .cm-content').innerText();
const status = (p, text) => p.getByTestId("status").filter({ hasText: text }).waitFor();

test("a workflow of three tasks made in the graph: a bad duration shown in both views, fixed, saved as version 1", async () => {
  const p = await page();
  await p.goto(`${baton.url}/projects/demo`);
  await p.getByTestId("new-workflow").click();
  await p.waitForURL(/\/projects\/demo\/workflows\/new$/);
  const editorJs = await p.evaluate(() =>
    performance
      .getEntriesByType("resource")
      .filter((e) => e.name.endsWith(".js") && /\/Editor-/.test(e.name))
      .map((e) => new URL(e.name).pathname),
  );
  for (const js of editorJs) {
    const gz = gzipSync(await readFile(join(ROOT, "ui/dist", js))).length;
    console.log(`editor chunk ${js}: ${(gz / 1024).toFixed(0)} KiB gzipped`);
  }

  for (const [added, name] of [["shell", "extract"], ["shell", "transform"], ["shell", "load"]]) {
    await p.getByTestId("add-shell").click();
    await p.getByTestId(`node-${added}`).waitFor();
    await rename(p, name);
  }
  await drawEdge(p, "extract", "transform");
  await drawEdge(p, "transform", "load");
  await until("the edges in the text", async () => (await p.locator(".react-flow__edge").count()) === 2);
  // Placed again along the edges: one task a row.
  await p.getByTestId("auto-layout").click();
  await until("the tasks one under the other", async () => {
    const ys = await Promise.all(["extract", "transform", "load"].map(async (t) => (await p.getByTestId(`node-${t}`).boundingBox()).y));
    return ys[0] < ys[1] && ys[1] < ys[2];
  });
  // The form shows what the graph drew.
  await p.getByTestId("node-load").click();
  assert.equal(await p.getByTestId("field-depends_on").locator("input[type=checkbox]:checked").count(), 1);

  // A bad duration, typed in the form: the server's problem shows on the field and the node…
  await p.getByTestId("node-transform").click();
  await p.locator("#field-retry_interval").fill("soon");
  await status(p, "1 problem");
  await p.getByTestId("field-retry_interval").getByRole("alert").waitFor();
  await p.locator('[data-testid="node-transform"][data-invalid="true"]').waitFor();
  await p.getByTestId("field-retry_interval").getByRole("alert").scrollIntoViewIfNeeded();
  await shot(p, "editor-graph-problem");
  // …and in the YAML at its line.
  await view(p, "YAML");
  await p.locator('[data-testid="yaml-editor"] .cm-lintRange-error').first().waitFor();
  assert.match(await yamlText(p), /retry_interval: soon/);
  await shot(p, "editor-yaml-problem");

  // Fixed in the graph's form, the problem goes from both.
  await view(p, "Graph");
  await p.getByTestId("node-transform").click();
  await p.locator("#field-retry_interval").fill("10s");
  await status(p, "Valid: 3 tasks");
  assert.equal(await p.locator('[data-testid="node-transform"][data-invalid="true"]').count(), 0);
  await view(p, "YAML");
  await until("no mark left", async () => (await p.locator('[data-testid="yaml-editor"] .cm-lintRange-error').count()) === 0);
  assert.match(await yamlText(p), /depends_on: \[transform\]/);
  await view(p, "Graph");

  // An edge back from load to extract makes a cycle: the server says so; the edge, selected
  // and deleted, goes from the text.
  await drawEdge(p, "load", "extract");
  await p.getByTestId("problems").getByText("dependency cycle").waitFor();
  // The cycle is a problem of its first task in the file, marked on its node.
  await p.locator('[data-testid="node-extract"][data-invalid="true"]').waitFor();
  await p.locator('.react-flow__edge[data-id="load->extract"]').dispatchEvent("click");
  await p.keyboard.press("Delete");
  await status(p, "Valid: 3 tasks");
  await view(p, "YAML");
  assert.doesNotMatch(await yamlText(p), /depends_on: \[load\]/);
  await view(p, "Graph");
  await p.getByTestId("node-load").click();
  await shot(p, "editor-graph");

  // The workflow's own name, in its form (shown while no task is selected).
  await p.getByTestId("editor-graph").locator(".react-flow__pane").click({ position: { x: 20, y: 20 } });
  const name = p.getByTestId("workflow-form").locator("#workflow-name");
  await name.fill("nightly-etl");
  await name.press("Enter");
  await view(p, "YAML");
  assert.match(await yamlText(p), /^name: nightly-etl$/m);
  await view(p, "Graph");

  await p.getByTestId("save").click();
  await p.waitForURL(/\/projects\/demo\/workflows\/nightly-etl$/);
  await p.getByTestId("saved").filter({ hasText: "created, version 1" }).waitFor();
  for (const t of ["extract", "transform", "load"]) await p.getByTestId(`node-${t}`).waitFor();
  await p.context().close();
});

test("an edit in the YAML is saved as version 2; a comment only is unchanged; a refused save keeps the edits", async () => {
  const p = await page();
  await p.goto(`${baton.url}/projects/demo/workflows/nightly-etl`);
  await p.getByRole("tab", { name: "Versions" }).waitFor();
  // While the editor's code is on its way, the workflow page (and its own YAML tab) is not
  // left on screen under the editor's URL: "Loading…" is. The code is held until checked.
  let release;
  const held = new Promise((r) => (release = r));
  await p.route(/\/assets\/Editor-[^/]*\.js$/, async (route) => {
    await held;
    await route.continue();
  });
  await p.getByTestId("edit").click();
  await p.waitForURL(/\/edit$/);
  await p.getByText("Loading…").waitFor();
  assert.equal(await p.getByRole("tab", { name: "Versions" }).count(), 0, "the workflow page is still shown");
  release();
  await view(p, "YAML");
  const content = p.locator('[data-testid="yaml-editor"] .cm-content');
  await content.click();
  await p.keyboard.press("Control+End");
  await p.keyboard.insertText("  - name: report\n    type: noop\n    depends_on: [load]\n");
  await status(p, "Valid: 4 tasks");
  await shot(p, "editor-yaml");
  await view(p, "Graph");
  await p.getByTestId("node-report").waitFor();
  await p.getByTestId("save").click();
  await p.getByTestId("saved").filter({ hasText: "version 2" }).waitFor();
  await p.getByTestId("node-report").waitFor();

  // A comment changes no definition: said as such.
  await p.getByTestId("edit").click();
  await view(p, "YAML");
  await content.click();
  await p.keyboard.press("Control+Home");
  await p.keyboard.insertText("# made in the editor\n");
  await status(p, "Valid");
  await p.getByTestId("save").click();
  await p.getByTestId("saved").filter({ hasText: "Unchanged" }).waitFor();

  // A save the server refuses shows why and keeps the text.
  await p.getByTestId("edit").click();
  await view(p, "YAML");
  await content.click();
  await p.keyboard.press("Control+End");
  await p.keyboard.insertText("  - name: orphan\n    type: noop\n    depends_on: [nobody]\n");
  await p.getByTestId("save").click();
  await p.getByTestId("status").filter({ hasText: "Not saved" }).waitFor();
  await p.getByTestId("problems").getByText("nobody").first().waitFor();
  assert.match(p.url(), /\/edit$/);
  assert.match(await yamlText(p), /name: orphan/);
  await p.context().close();
});

test("leaving the editor with unsaved edits asks first", async () => {
  const p = await page();
  await p.goto(`${baton.url}/projects/demo/workflows/nightly-etl/edit`);
  await p.getByTestId("add-noop").click();
  await p.getByTestId("dirty").waitFor();
  await p.locator(".editor h2").getByRole("link", { name: "demo" }).click();
  const dialog = p.getByRole("dialog", { name: "Unsaved changes" });
  await dialog.waitFor();
  await shot(p, "editor-leave");
  await p.getByTestId("stay").click();
  assert.match(p.url(), /\/edit$/);
  await p.getByTestId("node-noop").waitFor();
  // Closing or reloading the tab asks the browser's own question.
  let asked = null;
  p.once("dialog", async (d) => {
    asked = d.type();
    await d.dismiss();
  });
  await p.reload().catch(() => {});
  await until("the browser's question", async () => asked === "beforeunload");
  assert.match(p.url(), /\/edit$/);
  await p.locator(".editor h2").getByRole("link", { name: "demo" }).click();
  await p.getByTestId("leave").click();
  await p.waitForURL(/\/projects\/demo$/);
  await p.context().close();
});

test("an operator is offered neither a new workflow nor an edit", async () => {
  const p = await page("olga", "olga-operator-pass-1");
  await p.goto(`${baton.url}/projects/demo/workflows/nightly-etl`);
  await p.getByTestId("start").waitFor();
  assert.equal(await p.getByTestId("edit").count(), 0);
  await p.goto(`${baton.url}/projects/demo`);
  await p.getByTestId("workflows").getByRole("link", { name: "nightly-etl" }).waitFor();
  assert.equal(await p.getByTestId("new-workflow").count(), 0);
  await p.goto(`${baton.url}/projects/demo/workflows/new`);
  await p.getByText("needs the editor role").waitFor();
  await p.context().close();
});

test("a shell task's map: is edited in its form, the server's problem shown at the map's field", async () => {
  const p = await page();
  await p.goto(`${baton.url}/projects/demo/workflows/new`);
  await p.getByTestId("add-shell").click();
  await p.getByTestId("node-shell").waitFor();
  await p.locator("#field-map-over").fill("parts");
  await p.getByTestId("field-map-over").getByRole("alert").filter({ hasText: "is not a reference" }).waitFor();
  await p.getByTestId("field-map-over").scrollIntoViewIfNeeded();
  await shot(p, "editor-map");
  await p.locator("#field-map-as").fill("part");
  await p.locator("#field-map-parallel").fill("4");
  await p.locator("#field-map-failure").selectOption("continue");
  await view(p, "YAML");
  assert.match(await yamlText(p), /map:\s+over: parts\s+as: part\s+parallel: 4\s+failure: continue/);
  await p.context().close();
});

test("a shell task's broadcast is a checkbox in its form, written as broadcast: true", async () => {
  const p = await page();
  await p.goto(`${baton.url}/projects/demo/workflows/new`);
  await p.getByTestId("add-shell").click();
  await p.getByTestId("node-shell").waitFor();
  await p.locator("#field-broadcast").check();
  await view(p, "YAML");
  await until("broadcast: true in the text", async () => /\bbroadcast: true\b/.test(await yamlText(p)));
  await view(p, "Graph");
  await p.getByTestId("node-shell").click();
  await p.locator("#field-broadcast").uncheck();
  await view(p, "YAML");
  await until("broadcast gone from the text", async () => !/broadcast/.test(await yamlText(p)));
  await p.context().close();
});

test("the editor kept to the Content-Security-Policy", () => {
  assert.deepEqual(cspViolations, []);
});
