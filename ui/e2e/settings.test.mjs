// The project's settings pages in a real browser against a real Baton: data sources (an
// SQLite file and the real PostgreSQL tested ok, a missing file's test in the database's
// words, a refusal at its field, a delete that asks first, a password never shown back),
// secrets (only names come back), alert channels (a webhook to a receiver this test runs on
// 127.0.0.1 gets the test message), a rule whose alert then arrives and shows in the
// delivery history, and viewers and operators who see only what their role may do.
// Screenshots go to target/ui-screenshots/.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SHOTS, applyWorkflows, browser, cliLogin, loggedInPage, startBaton, until } from "./harness.mjs";

let baton;
let chrome;
let receiver;
const cspViolations = [];
/** What the receiver was sent: each request's path and JSON body. */
const received = [];

before(async () => {
  await mkdir(SHOTS, { recursive: true });
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      received.push({ path: req.url, body: JSON.parse(body || "null") });
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise((ok) => receiver.listen(0, "127.0.0.1", ok));
  // Alerts may reach loopback only when the server allows it.
  baton = await startBaton({ args: ["--alert-allow-host", "127.0.0.1"] });
  await cliLogin(baton);
  await baton.cli(["user", "create", "vic", "--password-stdin"], "vic-viewer-pass-1\n");
  await baton.cli(["project", "member", "add", "demo", "vic", "--role", "viewer"]);
  await baton.cli(["user", "create", "otto", "--password-stdin"], "otto-operator-pass-1\n");
  await baton.cli(["project", "member", "add", "demo", "otto", "--role", "operator"]);
  chrome = await browser();
});

after(async () => {
  await chrome?.close();
  await baton?.stop();
  receiver?.close();
});

/** A page logged in as `user` (the admin unless said). */
const page = (user, password) => loggedInPage(chrome, baton, { csp: cspViolations, user, password });

const shot = (p, name) => p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });

/** Whether `text` is anywhere the page keeps or shows: its URL, its HTML, its storage. */
async function pageHolds(p, text) {
  return p.evaluate(
    (t) =>
      location.href.includes(t) ||
      document.documentElement.outerHTML.includes(t) ||
      JSON.stringify({ ...localStorage }).includes(t) ||
      JSON.stringify({ ...sessionStorage }).includes(t),
    text,
  );
}

/** Fills and sends the new data source form. */
async function createDataSource(p, { name, type, url, password }) {
  await p.getByTestId("new-datasource").click();
  const dialog = p.getByRole("dialog", { name: "New data source" });
  await dialog.getByLabel("name").fill(name);
  await dialog.getByLabel("type").selectOption(type);
  await dialog.getByLabel("url").fill(url);
  if (password) await dialog.getByLabel("password").fill(password);
  await dialog.getByRole("button", { name: "Create" }).click();
  return dialog;
}

/** Presses a row's test and waits for its outcome. */
async function testRow(row) {
  await row.getByTestId("test").click();
  const result = row.getByTestId("test-result");
  await result.waitFor();
  return { ok: (await result.getAttribute("data-ok")) === "true", text: await result.textContent() };
}

test("data sources: an SQLite file and PostgreSQL test ok, a missing file says why, a refusal shows at its field, a delete asks first", async () => {
  const file = join(baton.dir, "local.db");
  await writeFile(file, "");
  const p = await page();
  await p.goto(`${baton.url}/projects/demo`);
  await p.getByRole("link", { name: "Settings" }).click();
  await p.waitForURL(/\/projects\/demo\/datasources$/);

  await createDataSource(p, { name: "local", type: "sqlite", url: `sqlite://${file}` });
  const local = p.locator("tr[data-datasource=local]");
  await local.waitFor();
  assert.deepEqual((await testRow(local)).ok, true);

  await createDataSource(p, { name: "gone", type: "sqlite", url: `sqlite://${join(baton.dir, "missing.db")}` });
  const gone = p.locator("tr[data-datasource=gone]");
  const failed = await testRow(gone);
  assert.equal(failed.ok, false);
  assert.match(failed.text, /unable to open|no such file/i, "the test says what failed in the database's words");

  // The password goes in its own field, once; it is never shown or kept by the page.
  const password = "pg-pass-7f3a9c";
  await createDataSource(p, { name: "wh", type: "postgresql", url: "postgres://postgres@127.0.0.1:5432/postgres", password });
  const wh = p.locator("tr[data-datasource=wh]");
  await wh.getByText("kept (sealed)").waitFor();
  assert.equal(await wh.locator("td").nth(2).textContent(), "postgres://postgres@127.0.0.1:5432/postgres");
  assert.equal((await testRow(wh)).ok, true, "the real PostgreSQL answers");
  assert.equal(await pageHolds(p, password), false, "the password is nowhere in the page");

  // The server's refusal is shown at the field it names (a MySQL URL without a host).
  const dialog = await createDataSource(p, { name: "shop", type: "mysql", url: "mysql:///shop" });
  await dialog.locator("[data-field=url] [role=alert]").waitFor();
  await shot(p, "settings-datasource-refused");
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await shot(p, "settings-datasources");

  // The first press only asks; Cancel keeps it; a second press deletes.
  await gone.getByRole("button", { name: "Delete gone" }).click();
  const asking = gone.getByRole("group", { name: "Delete gone?" });
  await asking.getByRole("button", { name: "Cancel" }).click();
  assert.equal(await asking.count(), 0);
  assert.match(await baton.cli(["datasource", "list", "--project", "demo"]), /gone/, "nothing was deleted yet");
  await gone.getByRole("button", { name: "Delete gone" }).click();
  await asking.getByRole("button", { name: "Delete" }).click();
  await until("the deleted row gone", async () => (await gone.count()) === 0);
  assert.equal(await local.count(), 1);
  await p.context().close();
});

test("secrets: one set in a password field is listed by name only", async () => {
  const p = await page();
  await p.goto(`${baton.url}/projects/demo/secrets`);
  await p.getByTestId("new-secret").click();
  const dialog = p.getByRole("dialog", { name: "Set a secret" });
  await dialog.getByLabel("name").fill("api.token");
  await dialog.getByRole("button", { name: "Set" }).click();
  await dialog.locator("[data-field=name] [role=alert]").waitFor();
  await dialog.getByLabel("name").fill("api_token");
  const value = dialog.getByLabel("value");
  assert.equal(await value.getAttribute("type"), "password");
  await value.fill("tok-9d2e41b7");
  await dialog.getByRole("button", { name: "Set" }).click();
  await p.locator("tr[data-secret=api_token]").waitFor();
  assert.equal(await pageHolds(p, "tok-9d2e41b7"), false, "the value is nowhere in the page");
  const listed = await baton.cli(["secret", "list", "--project", "demo"]);
  assert.match(listed, /api_token/);
  await shot(p, "settings-secrets");
  await p.context().close();
});

test("alerts: a webhook channel's test reaches the receiver; a rule's alert arrives and shows in the history", async () => {
  const p = await page();
  await p.goto(`${baton.url}/projects/demo/alerts`);
  const hook = `http://127.0.0.1:${receiver.address().port}/hook`;

  await p.getByTestId("new-channel").click();
  const dialog = p.getByRole("dialog", { name: "New channel" });
  await dialog.getByLabel("name").fill("ops-hook");
  await dialog.getByLabel("type").selectOption("webhook");
  // A URL the server refuses: its words at the field.
  await dialog.getByLabel("URL", { exact: true }).fill("not a url");
  await dialog.getByRole("button", { name: "Create" }).click();
  await dialog.locator("[data-field='settings.url'] [role=alert]").filter({ hasText: "not a URL" }).waitFor();
  await dialog.getByLabel("URL", { exact: true }).fill(hook);
  await shot(p, "settings-alert-channel-form");
  await dialog.getByRole("button", { name: "Create" }).click();
  const row = p.locator("tr[data-channel=ops-hook]");
  await row.waitFor();
  const outcome = await testRow(row);
  assert.equal(outcome.ok, true, outcome.text);
  const test = await until("the test message at the receiver", () => received.find((r) => r.body?.message?.includes("ops-hook")));
  assert.equal(test.path, "/hook");
  assert.equal(test.body.project, "demo");
  await shot(p, "settings-alert-channels");

  await p.getByRole("tab", { name: "Rules" }).click();
  await p.getByTestId("new-rule").click();
  const rule = p.getByRole("dialog", { name: "New rule" });
  await rule.getByRole("button", { name: "Create" }).click();
  await rule.locator("[data-testid=rule-events] [role=alert]").waitFor();
  await rule.getByLabel("instance_succeeded").check();
  await rule.getByLabel("workflow").fill("ping");
  await shot(p, "settings-alert-rule-form");
  await rule.getByRole("button", { name: "Create" }).click();
  await p.getByTestId("rules").getByText("instance_succeeded").waitFor();

  await applyWorkflows(baton, { ping: ["name: ping", "project: demo", "tasks:", "  - {name: pong, type: noop}", ""].join("\n") });
  const started = (await baton.cli(["workflow", "start", "ping", "--project", "demo", "--wait"])).trim().split(/\s+/)[0];
  const alert = await until("the instance's alert at the receiver", () => received.find((r) => r.body?.instance_id === Number(started)), 60_000);
  assert.equal(alert.body.kind, "instance_succeeded");
  await p.getByRole("tab", { name: "Delivery history" }).click();
  const delivery = p.getByTestId("deliveries").locator("tr[data-delivery]").filter({ hasText: `#${started}` });
  await until("the delivery sent in the history", async () => {
    await p.getByRole("button", { name: "Refresh" }).click();
    return (await delivery.locator("[data-state=sent]").count()) === 1;
  });
  await shot(p, "settings-alert-history");
  await p.context().close();
});

test("a viewer sees the settings but no button to change them; an operator may test but not create", async () => {
  const p = await page("vic", "vic-viewer-pass-1");
  await p.goto(`${baton.url}/projects/demo/datasources`);
  await p.locator("tr[data-datasource=local]").waitFor();
  const none = async (testId) => assert.equal(await p.getByTestId(testId).count(), 0, `a viewer has no ${testId}`);
  await none("new-datasource");
  await none("test");
  assert.equal(await p.getByRole("button", { name: /^Delete / }).count(), 0);
  await shot(p, "settings-viewer");
  await p.goto(`${baton.url}/projects/demo/secrets`);
  await p.locator("tr[data-secret=api_token]").waitFor();
  await none("new-secret");
  assert.equal(await p.getByRole("button", { name: /^Delete / }).count(), 0);
  await p.goto(`${baton.url}/projects/demo/alerts`);
  await p.locator("tr[data-channel=ops-hook]").waitFor();
  await none("new-channel");
  await none("test");
  await p.getByRole("tab", { name: "Rules" }).click();
  await p.getByTestId("rules").getByText("instance_succeeded").waitFor();
  await none("new-rule");
  await p.context().close();

  const o = await page("otto", "otto-operator-pass-1");
  await o.goto(`${baton.url}/projects/demo/datasources`);
  const local = o.locator("tr[data-datasource=local]");
  await local.waitFor();
  assert.equal((await testRow(local)).ok, true);
  assert.equal(await o.getByTestId("new-datasource").count(), 0);
  await o.context().close();
});

test("the pages kept to their Content-Security-Policy", () => {
  assert.deepEqual(cspViolations, []);
});
