// The browser tests' harness: a real `baton standalone` (target/debug/baton, built by
// `make test` beforehand; nothing is built here) on a free port with its own data
// directory, the CLI against it, and Debian's chromium driven by playwright-core (no
// browser is downloaded). Waits are conditions with deadlines, never bare sleeps.
import { execFile, spawn } from "node:child_process";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
export const BATON = process.env.BATON_BIN ?? join(ROOT, "target/debug/baton");
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
export const SHOTS = join(ROOT, "target/ui-screenshots");
export const ADMIN_PASSWORD = "e2e-admin-pass-123";

/** A port nobody listens on now (the OS's pick). */
export function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/** An error that ends an `until` at once. */
export class Fatal extends Error {}

/** Calls `check` until it returns a truthy value, or throws after `ms`. */
export async function until(what, check, ms = 30_000, every = 100) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      if (e instanceof Fatal) throw e;
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${last}` : ""}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** Starts `baton standalone` with the examples applied (and `args`, more flags of
 * standalone's); `stop()` ends it and its files. */
export async function startBaton({ args: more = [] } = {}) {
  const dir = await mkdtemp(join(tmpdir(), "baton-ui-e2e-"));
  const port = await freePort();
  const grpc = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = { ...process.env, BATON_ADMIN_PASSWORD: ADMIN_PASSWORD, XDG_CONFIG_HOME: join(dir, "config") };
  delete env.BATON_TOKEN;
  await mkdir(join(dir, "config"));
  const args = [
    "standalone",
    "--listen",
    `127.0.0.1:${port}`,
    "--grpc-listen",
    `127.0.0.1:${grpc}`,
    "--data-dir",
    join(dir, "data"),
    "--apply",
    join(ROOT, "examples"),
    ...more,
  ];
  let output = "";
  let child;
  let exited;
  const launch = async () => {
    child = spawn(BATON, args, { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    exited = new Promise((r) => child.once("exit", r));
    await until(
      "the server's health",
      async () => {
        if (child.exitCode !== null) throw new Fatal(`baton exited (${child.exitCode}):\n${output}`);
        return (await fetch(`${url}/api/v1/health`)).ok;
      },
      60_000,
    );
  };
  /** Ends the server (its process group): TERM, then KILL after 10 s; or KILL at once. */
  const halt = async (first = "SIGTERM") => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const signal = (s) => {
      try {
        process.kill(-child.pid, s);
      } catch {
        /* already gone */
      }
    };
    signal(first);
    const done = await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 10_000))]);
    if (!done) {
      signal("SIGKILL");
      await exited;
    }
  };
  const stop = async () => {
    await halt();
    await rm(dir, { recursive: true, force: true });
  };
  /** Kills the server (SIGKILL: a crash; its connections drop at once) and starts it again
   * on the same port and data; `stopped`, if given, runs while it is down (with `signal`
   * "SIGTERM": after a clean stop), e.g. to write to its store. */
  const restart = async ({ signal = "SIGKILL", stopped } = {}) => {
    await halt(signal);
    await stopped?.();
    await launch();
  };
  // Should this process end without `stop()` (an interrupt), the server ends with it.
  process.once("exit", () => {
    try {
      if (child.exitCode === null) process.kill(-child.pid, "SIGKILL");
    } catch {
      /* already gone */
    }
  });
  try {
    await launch();
  } catch (e) {
    await stop();
    throw e;
  }
  /** Runs the CLI against this server; `input` goes to its stdin. */
  const cli = (args, input) =>
    new Promise((ok, fail) => {
      const p = execFile(BATON, [...args, "--server", url], { env }, (err, stdout, stderr) =>
        err ? fail(new Error(`baton ${args.join(" ")}: ${stderr || err.message}`)) : ok(stdout),
      );
      if (input !== undefined) p.stdin.end(input);
      else p.stdin.end();
    });
  return { url, port, dir, cli, stop, restart, output: () => output };
}

/** Debian's chromium, headless. */
export async function browser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
  });
}

/** Collects into `into` every Content-Security-Policy violation of the pages of `context`:
 * the browser's console report of a refused script or style, and each
 * `securitypolicyviolation` event (reported through the console by an init script). A test
 * file fails on any (a test of its own asserts the list is empty). */
export async function watchCsp(context, into) {
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) =>
      console.error(`Content Security Policy violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`),
    );
  });
  context.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy/i.test(m.text())) into.push(m.text());
  });
}

/** Logs the server's CLI in as the admin, so that each test file's setup can use it. */
export async function cliLogin(baton) {
  await baton.cli(["login", "--username", "admin", "--password-stdin"], `${ADMIN_PASSWORD}\n`);
}

/** Writes each workflow (`files`: name → YAML text) to `NAME.yaml` in the server's directory
 * and applies it through the CLI (logged in first), in the order given. */
export async function applyWorkflows(baton, files) {
  for (const [name, text] of Object.entries(files)) {
    const file = join(baton.dir, `${name}.yaml`);
    await writeFile(file, text);
    await baton.cli(["workflow", "apply", "-f", file]);
  }
}

/** A page of a new browser context, logged in through the login form as `user` (the admin
 * unless said): it opens /projects, is sent to /login, submits and waits until /projects
 * shows the user. Options: `viewport` (1280×800), `context` (more options of the context,
 * e.g. `colorScheme`), `csp` (a list the context's CSP violations go to; none watched
 * without it), `init` (run on the context before the page opens, e.g. an init script),
 * `timeout` (each action's, 20 s) and `beforeSubmit` (run on the filled form). */
export async function loggedInPage(chrome, baton, options = {}) {
  const { viewport = { width: 1280, height: 800 }, context: more = {}, csp, init, timeout = 20_000 } = options;
  const { user = "admin", password = ADMIN_PASSWORD, beforeSubmit } = options;
  const context = await chrome.newContext({ viewport, ...more });
  if (csp) await watchCsp(context, csp);
  await init?.(context);
  const p = await context.newPage();
  p.setDefaultTimeout(timeout);
  await p.goto(`${baton.url}/projects`);
  await p.waitForURL(/\/login/);
  await p.fill("input[name=username]", user);
  await p.fill("input[name=password]", password);
  await beforeSubmit?.(p);
  await p.click("button[type=submit]");
  await p.waitForURL(/\/projects$/);
  await p.getByTestId("current-user").filter({ hasText: user }).waitFor();
  return p;
}
