import { describe, expect, it } from "vitest";
import { EDGE_LINES, LogReader, nextStep, wanted, type Chunk } from "./logReader";
import { RANGE_BYTES } from "./logWindow";

/** The API's answers over `log` (ASCII: bytes are characters), as the server cuts them. */
function server(log: { text: string; ended: boolean }) {
  const asked: Array<[number, number]> = [];
  const read = async (offset: number, limit: number): Promise<Chunk> => {
    asked.push([offset, limit]);
    const size = log.text.length;
    const start = offset < 0 ? Math.max(0, size + offset) : Math.min(offset, size);
    const end = Math.min(size, start + limit);
    return { offset: start, next_offset: end, size, data: log.text.slice(start, end), complete: log.ended && end === size, state: log.ended ? "succeeded" : "running" };
  };
  return { read, asked };
}

/** `n` lines "line 0" … "line n-1", each ending with a newline. */
const numbered = (n: number) => Array.from({ length: n }, (_, i) => `line ${i}\n`).join("");

describe("the log reader", () => {
  it("opens a long log at its end, reading only its last range", async () => {
    const log = { text: numbered(200_000), ended: true };
    const s = server(log);
    const r = new LogReader(s.read);
    const moved = await r.openEnd();
    expect(moved?.jumped).toBe(true);
    expect(s.asked).toEqual([[-RANGE_BYTES, RANGE_BYTES]]);
    expect(r.window.lines().at(-1)).toBe("line 199999");
    expect(r.size).toBe(log.text.length);
    expect(r.fetched).toBe(RANGE_BYTES);
    expect(r.complete && r.atEnd).toBe(true);
    expect(r.firstLine).toBeNull();
  });

  it("reads earlier ranges back to the first line, keeping count of line numbers", async () => {
    const text = numbered(100_000);
    const s = server({ text, ended: true });
    const r = new LogReader(s.read, 4 * RANGE_BYTES);
    await r.openEnd();
    const last = r.window.lines().at(-1);
    while (r.start > 0) {
      const shown = r.window.lines()[0];
      const moved = await r.earlier();
      // The line that was first is now `added` lines down.
      expect(r.window.lines()[moved!.added]).toBe(shown);
      expect(r.window.bytes).toBeLessThanOrEqual(4 * RANGE_BYTES);
    }
    expect(r.firstLine).toBe(0);
    expect(r.window.lines()[0]).toBe("line 0");
    expect(r.window.lines().at(-1)).not.toBe(last);
    // Down again: line numbers follow what is dropped at the start.
    while (!r.atEnd) await r.later();
    expect(r.window.lines().at(-1)).toBe("line 99999");
    expect(r.window.lines()[0]).toBe(`line ${r.firstLine}`);
  });

  it("follows a log that grows while the attempt runs, then completes", async () => {
    const log = { text: "first\nsec", ended: false };
    const s = server(log);
    const r = new LogReader(s.read);
    await r.openEnd();
    expect(r.window.lines()).toEqual(["first", "sec"]);
    expect(r.firstLine).toBe(0);
    log.text += "ond\nthird\n";
    await r.later();
    expect(r.window.lines()).toEqual(["first", "second", "third"]);
    expect(r.complete).toBe(false);
    log.ended = true;
    await r.later();
    expect(r.complete).toBe(true);
  });

  it("jumps to a byte, and to the start", async () => {
    const text = numbered(100_000);
    const s = server({ text, ended: true });
    const r = new LogReader(s.read);
    await r.openEnd();
    await r.openAt(text.indexOf("line 50000\n") - 1);
    expect(r.window.lines()[0]).toBe("line 50000");
    expect(r.firstLine).toBeNull();
    await r.openAt(0);
    expect(r.window.lines()[0]).toBe("line 0");
    expect(r.firstLine).toBe(0);
  });

  it("does one read at a time", async () => {
    const s = server({ text: numbered(10), ended: true });
    const r = new LogReader(s.read);
    const [a, b] = await Promise.all([r.openEnd(), r.later()]);
    expect(a?.jumped).toBe(true);
    expect(b).toBeNull();
    expect(s.asked).toHaveLength(1);
  });

  it("asks for the range the view nears, in the way the user moves", () => {
    const held = { start: 1000, end: 5000, size: 9000, complete: true, full: false };
    expect(wanted(held, 0, 50, 1000, "up")).toBe("earlier");
    expect(wanted(held, 400, 450, 1000, "up")).toBeNull();
    expect(wanted(held, 900, 999, 1000, "down")).toBe("later");
    expect(wanted({ ...held, start: 0 }, 0, 50, 1000, "up")).toBeNull();
    expect(wanted({ ...held, end: 9000 }, 900, 999, 1000, "down")).toBeNull();
    expect(wanted({ ...held, end: 9000, complete: false }, 1000 - EDGE_LINES, 999, 1000, "down")).toBe("later");
    // A few lines held, near both edges: only the way the user moves…
    expect(wanted({ ...held, full: true }, 0, 40, 50, "up")).toBe("earlier");
    expect(wanted({ ...held, full: true }, 0, 40, 50, "down")).toBe("later");
    // …and, before they moved, either way only while nothing would be pushed out.
    expect(wanted(held, 0, 40, 50, null)).toBe("earlier");
    expect(wanted({ ...held, start: 0 }, 0, 40, 50, null)).toBe("later");
    expect(wanted({ ...held, full: true }, 0, 40, 50, null)).toBeNull();
  });

  it("never reads back and forth while the user does not move", async () => {
    // Lines of 100 KB: a window of 4 ranges holds a handful, and the view is near both edges.
    const text = Array.from({ length: 40 }, (_, i) => `${i}`.padEnd(100_000, ".") + "\n").join("");
    const s = server({ text, ended: true });
    const r = new LogReader(s.read, 4 * RANGE_BYTES);
    await r.openAt(text.length / 2);
    for (let reads = 0; reads < 100; reads++) {
      const count = r.window.lines().length;
      const next = wanted(r, 0, count - 1, count, null);
      if (!next) break;
      await (next === "earlier" ? r.earlier() : r.later());
    }
    expect(s.asked.length).toBeLessThan(10);
    expect(r.full).toBe(true);
  });

  it("carries out a jump first, then follows the end, then reads what the view nears", () => {
    const held = { start: 1000, end: 5000, size: 9000, complete: true, full: false, atEnd: false };
    const top = { first: 0, last: 40, count: 1000, intent: "up" as const };
    expect(nextStep(held, { to: "start" }, true, top)).toEqual({ read: "at", at: 0 });
    expect(nextStep(held, { to: "byte", at: 77 }, false, top)).toEqual({ read: "at", at: 77 });
    expect(nextStep(held, { to: "end" }, false, top)).toEqual({ read: "end" });
    expect(nextStep(held, null, true, top)).toEqual({ read: "end" });
    expect(nextStep({ ...held, end: 9000, atEnd: true, complete: false }, null, true, top)).toEqual({ read: "later" });
    expect(nextStep({ ...held, end: 9000, atEnd: true }, null, true, top)).toBeNull();
    expect(nextStep(held, null, false, top)).toEqual({ read: "earlier" });
    expect(nextStep(held, null, false, { ...top, first: 500, last: 540 })).toBeNull();
  });
});
