import { describe, expect, it } from "vitest";
import { ansiConverter, lineHtml, searchLines, stripAnsi } from "./log";

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
