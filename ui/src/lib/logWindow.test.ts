import { describe, expect, it } from "vitest";
import { LogWindow, bytesText, linesOf, makeRange, mib } from "./logWindow";

/** The range [start, end) of `text` (ASCII, so bytes are characters). */
const slice = (text: string, start: number, end: number) => makeRange(start, end, text.slice(start, end));

const LOG = "first\nsecond line\nthird\nfourth\n";

describe("log ranges", () => {
  it("a range that starts mid-line drops its partial first line", () => {
    expect(linesOf([slice(LOG, 9, LOG.length)])).toEqual(["third", "fourth"]);
    expect(linesOf([slice(LOG, 0, LOG.length)])).toEqual(["first", "second line", "third", "fourth"]);
  });

  it("the partial first line joins the range before it once that is read", () => {
    const w = new LogWindow();
    w.reset(slice(LOG, 9, LOG.length));
    const added = w.prepend(slice(LOG, 3, 9));
    expect(w.lines()).toEqual(["second line", "third", "fourth"]);
    expect(added).toBe(1);
    w.prepend(slice(LOG, 0, 3));
    expect(w.lines()).toEqual(["first", "second line", "third", "fourth"]);
  });

  it("a line longer than a range spans ranges", () => {
    const text = "a\n" + "x".repeat(30) + "\nb";
    const w = new LogWindow();
    w.reset(slice(text, 20, text.length));
    expect(w.lines()).toEqual(["b"]);
    w.prepend(slice(text, 10, 20));
    expect(w.lines()).toEqual(["b"]);
    w.prepend(slice(text, 0, 10));
    expect(w.lines()).toEqual(["a", "x".repeat(30), "b"]);
  });

  it("text appended while the attempt writes completes the last line", () => {
    const w = new LogWindow();
    w.reset(slice(LOG, 0, 8));
    expect(w.lines()).toEqual(["first", "se"]);
    w.append(slice(LOG, 8, LOG.length));
    expect(w.lines()).toEqual(["first", "second line", "third", "fourth"]);
    expect(w.held()).toHaveLength(1);
  });

  it("refuses a range that is not next to the window", () => {
    const w = new LogWindow();
    w.reset(slice(LOG, 9, 20));
    expect(() => w.prepend(slice(LOG, 0, 5))).toThrow(/window starts at 9/);
    expect(() => w.append(slice(LOG, 25, 30))).toThrow(/window ends at 20/);
  });

  it("stays under its bound, dropping the ranges far from where it grew", () => {
    const line = "line of text\n"; // 13 bytes
    const size = 13 * 1000;
    const text = line.repeat(1000);
    const w = new LogWindow(1300);
    w.reset(slice(text, size - 650, size));
    for (let start = size - 650; start > 0; start -= 650) {
      w.prepend(slice(text, start - 650, start));
      expect(w.bytes).toBeLessThanOrEqual(1300);
    }
    // Scrolled to the top: the end was dropped, the start is held.
    expect(w.start).toBe(0);
    expect(w.end).toBe(1300);
    expect(w.lines()).toHaveLength(100);
    // Scrolling down again drops from the start and says how many lines went.
    const dropped = w.append(slice(text, 1300, 1950));
    expect(w.start).toBe(650);
    // 50 lines went with the range, and one more: the window cannot know that byte 650
    // starts a line, so it does not show that line until the range before it is read.
    expect(dropped).toBe(51);
    expect(w.bytes).toBeLessThanOrEqual(1300);
  });

  it("says sizes in MiB", () => {
    expect(mib(1.5 * 1024 * 1024)).toBe("1.5 MiB");
    expect(mib(64 * 1024 * 1024)).toBe("64 MiB");
    expect(bytesText(63)).toBe("63 bytes");
    expect(bytesText(12 * 1024 + 100)).toBe("12 KiB");
    expect(bytesText(3 << 20)).toBe("3.0 MiB");
  });
});
