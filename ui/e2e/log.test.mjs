// The log viewer at scale in a real browser against a real Baton: a task writes a 63 MiB
// log (just under the worker's default 64 MiB cap, `--log-max-bytes`, past which the rest
// of the output would be dropped); its page opens at the end, reads earlier ranges as the
// view nears the top, jumps to the first line, to a byte and back to the end, downloads the
// whole file from the API, and never holds or fetches the whole log. A second task's log is
// followed while it prints. Timings and heap figures are printed, not asserted.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SHOTS, applyWorkflows, browser, cliLogin, loggedInPage, startBaton, until } from "./harness.mjs";

let baton;
let chrome;
const cspViolations = [];

/** Lines of the big log: the first, 660,000 of 100 bytes, the last (66,000,051 bytes). */
const LINES = 660_000;
const BIG = `name: big-log
project: logs
tasks:
  - name: big
    type: python
    script: |
      import sys
      out = sys.stdout
      out.write("FIRST LINE of the big log\\n")
      pad = "x" * 86
      for chunk in range(0, ${LINES}, 10000):
          out.write("".join("line %07d %s\\n" % (i, pad) for i in range(chunk, chunk + 10000)))
      out.write("LAST LINE of the big log\\n")
`;
/** Prints a line, waits until the test has seen it (the file `go` appears), then prints
 * the rest one by one. */
const ticker = (go) => `name: ticker
project: logs
tasks:
  - name: tick
    type: python
    script: |
      import os, sys, time
      print("tick 1", flush=True)
      deadline = time.time() + 120
      while not os.path.exists(${JSON.stringify(go)}) and time.time() < deadline:
          time.sleep(0.05)
      for i in range(2, 16):
          print("tick %d" % i, flush=True)
          time.sleep(0.1)
      print("done ticking", flush=True)
`;

before(async () => {
  await mkdir(SHOTS, { recursive: true });
  baton = await startBaton();
  await cliLogin(baton);
  await baton.cli(["project", "create", "logs"]);
  await applyWorkflows(baton, { big: BIG, ticker: ticker(join(baton.dir, "go")) });
  chrome = await browser();
});

after(async () => {
  await chrome?.close();
  await baton?.stop();
});

const page = () => loggedInPage(chrome, baton, { context: { acceptDownloads: true }, csp: cspViolations, timeout: 30_000 });

/** The log page's path of `task` in instance `id` (from the instance page's link). */
async function logPath(p, id, task) {
  await p.goto(`${baton.url}/instances/${id}`);
  const link = p.getByTestId(`log-${task}`);
  await link.waitFor();
  return link.getAttribute("href");
}

/** The text of the first line wholly in view. */
const topLine = (p) =>
  p.getByTestId("log").evaluate((box) => {
    const top = box.getBoundingClientRect().top;
    const lines = [...box.querySelectorAll(".log-line")].filter((l) => l.getBoundingClientRect().top >= top - 1);
    lines.sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top);
    return lines[0]?.querySelector(".lt")?.textContent ?? "";
  });
const lineNo = (text) => Number(/^line (\d+)/.exec(text)?.[1] ?? NaN);

/** The page's JS heap after a full collection (CDP), in bytes. */
async function heap(p) {
  const cdp = await p.context().newCDPSession(p);
  await cdp.send("HeapProfiler.collectGarbage");
  const { usedSize } = await cdp.send("Runtime.getHeapUsage");
  await cdp.detach();
  return usedSize;
}

const MiB = (n) => `${(n / 1048576).toFixed(1)} MiB`;

test("a 63 MiB log opens at its end, reads by ranges to its first line, and is never loaded whole", async () => {
  const id = (await baton.cli(["workflow", "start", "big-log", "--project", "logs", "--wait"])).trim().split(/\s+/)[0];
  const p = await page();
  const path = await logPath(p, id, "big");
  // Every byte of log text the page is sent (the JSON answers, uncompressed).
  const bodies = [];
  p.on("response", (r) => {
    if (/\/api\/v1\/task-instances\/\d+\/log\?/.test(r.url())) bodies.push(r.body().then((b) => b.length, () => 0));
  });
  const log = p.getByTestId("log");
  const opened = Date.now();
  await p.goto(`${baton.url}${path}`);
  await log.getByText("LAST LINE of the big log").waitFor();
  const toLastLine = Date.now() - opened;
  await until("the end read", async () => (await log.getAttribute("data-complete")) === "true");
  const size = Number(await log.getAttribute("data-size"));
  assert.equal(size, 26 + LINES * 100 + 25, "the log's size as the server says it");
  await p.screenshot({ path: join(SHOTS, "log-64mib.png") });

  // Scrolled up with the wheel: an earlier range is read as the view nears the top of what
  // is held, and the view stays where it was (it does not jump by the lines added above it).
  const start = Number(await log.getAttribute("data-start"));
  assert.ok(start > size - 2 * 1048576, `opened at its end, not at ${start}`);
  await log.hover();
  let before = lineNo(await topLine(p));
  await until("an earlier range read", async () => {
    before = lineNo(await topLine(p));
    await p.mouse.wheel(0, -3000);
    return Number(await log.getAttribute("data-start")) < start;
  });
  await until("the view still near where it was", async () => Math.abs(lineNo(await topLine(p)) - before) < 400, 5_000);

  // Search finds within what is held, and says so.
  await p.fill("input[placeholder=Search]", `line 0${LINES - 10}`);
  await p.getByTestId("hits").filter({ hasText: "1 lines in the part held" }).waitFor();
  await p.fill("input[placeholder=Search]", "");

  // The start: the first line, numbered 1.
  const toStart = Date.now();
  await p.getByTestId("jump-start").click();
  const first = log.locator(".log-line").filter({ hasText: "FIRST LINE of the big log" });
  await first.waitFor();
  const toFirstLine = Date.now() - toStart;
  assert.equal(await first.locator(".ln").textContent(), "1");

  // A byte half-way: the lines there.
  await p.getByLabel("Position in the log").fill(String(Math.floor(size / 2)));
  await until("the middle of the log held", async () => Math.abs(Number(await log.getAttribute("data-start")) - size / 2) < 1048576);
  await until("its lines in view", async () => Math.abs(lineNo(await topLine(p)) - LINES / 2) < 5_000);

  // Back to the end.
  await p.getByTestId("jump-end").click();
  await log.getByText("LAST LINE of the big log").waitFor();

  const heapUsed = await heap(p);
  const fetched = Number(await log.getAttribute("data-fetched"));
  const sent = (await Promise.all(bodies)).reduce((a, b) => a + b, 0);
  console.log(
    `log viewer, ${MiB(size)} log: last line shown ${toLastLine} ms after opening, first line ${toFirstLine} ms after "Start"; ` +
      `${MiB(fetched)} of log text read in ${bodies.length} reads (${MiB(sent)} of JSON); JS heap ${MiB(heapUsed)} after GC`,
  );
  assert.ok(fetched < 16 * 1048576, `the page read ${MiB(fetched)} of the log`);
  assert.ok(sent < 16 * 1048576, `the page was sent ${MiB(sent)} of log answers`);
  assert.ok(heapUsed < size, `the page's heap (${MiB(heapUsed)}) could hold the whole log`);

  // The download is the whole file, from the API (not from what the page holds).
  const [download] = await Promise.all([p.waitForEvent("download"), p.getByRole("link", { name: "Download" }).click()]);
  assert.match(download.suggestedFilename(), /^task-\d+-attempt-1\.log$/);
  assert.equal((await stat(await download.path())).size, size);
  await p.context().close();
});

test("a running task's log is followed as it prints, to its end", async () => {
  const id = (await baton.cli(["workflow", "start", "ticker", "--project", "logs"])).trim().split(/\s+/)[0];
  const p = await page();
  const path = await logPath(p, id, "tick");
  await p.goto(`${baton.url}${path}`);
  const log = p.getByTestId("log");
  await log.getByText("tick 1", { exact: true }).waitFor();
  assert.equal(await log.getAttribute("data-complete"), "false", "read while the task runs");
  await p.getByTestId("log-status").filter({ hasText: "following" }).waitFor();
  await writeFile(join(baton.dir, "go"), "");
  await log.getByText("tick 9", { exact: true }).waitFor();
  await log.getByText("done ticking").waitFor();
  await until("the whole log read", async () => (await log.getAttribute("data-complete")) === "true");
  assert.equal(await log.locator(".log-line").count(), 16);
  await p.context().close();
});

test("the log pages kept to the Content-Security-Policy", () => {
  assert.deepEqual(cspViolations, []);
});
