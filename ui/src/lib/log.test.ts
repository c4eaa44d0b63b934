import { describe, expect, it } from "vitest";
import { EMPTY_LOG, ansiConverter, appendPage, lineHtml, searchLines, stripAnsi, visibleLines } from "./log";

describe("log pages", () => {
  it("join lines split across pages and keep the offset", () => {
    let s = appendPage(EMPTY_LOG, { data: "one\ntw", next_offset: 6, complete: false });
    expect(s.lines).toEqual(["one"]);
    expect(visibleLines(s)).toEqual(["one", "tw"]);
    s = appendPage(s, { data: "o\nthree\n", next_offset: 14, complete: true });
    expect(s.lines).toEqual(["one", "two", "three"]);
    expect(s.partial).toBe("");
    expect(s.offset).toBe(14);
    expect(s.complete).toBe(true);
  });

  it("an empty page while running changes nothing but the offset", () => {
    const s = appendPage(EMPTY_LOG, { data: "", next_offset: 0, complete: false });
    expect(visibleLines(s)).toEqual([]);
  });
});

describe("ANSI", () => {
  it("becomes classes, with the text escaped", () => {
    const html = lineHtml(ansiConverter(), "\x1b[31m<b>fail</b>\x1b[0m & done");
    expect(html).toContain('class="ansi-red-fg"');
    expect(html).toContain("&lt;b&gt;fail&lt;/b&gt;");
    expect(html).toContain("&amp; done");
    expect(html).not.toContain("<b>");
    expect(html).not.toContain("style=");
  });

  it("is ignored by search", () => {
    const lines = ["\x1b[32mok\x1b[0m step 1", "ERROR step 2", "fine"];
    expect(stripAnsi(lines[0]!)).toBe("ok step 1");
    expect(searchLines(lines, "ok st")).toEqual([0]);
    expect(searchLines(lines, "error")).toEqual([1]);
    expect(searchLines(lines, "")).toEqual([]);
  });
});

describe("the lines of a log as HTML", () => {
  it("are converted once, a colour carrying over a line and a page", async () => {
    const { LogLines } = await import("./log");
    const log = new LogLines();
    log.append({ data: "\x1b[31mred\nstill red", next_offset: 17, complete: false });
    expect(log.count).toBe(2);
    expect(log.htmlAt(0)).toContain('class="ansi-red-fg"');
    expect(log.htmlAt(1)).toBe("still red");
    log.append({ data: "\x1b[0m\nplain <i>\n", next_offset: 40, complete: true });
    expect(log.count).toBe(3);
    expect(log.htmlAt(1)).toContain('class="ansi-red-fg"');
    expect(log.htmlAt(2)).toBe("plain &lt;i&gt;");
    expect(log.text()).toEqual(["\x1b[31mred", "still red\x1b[0m", "plain <i>"]);
    expect(log.offset).toBe(40);
    expect(log.complete).toBe(true);
  });
});
