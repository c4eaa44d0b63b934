import { describe, expect, it } from "vitest";
import { PLAIN, ansiConverter, lineHtml, lineStarts, searchLines, sgrAfter, sgrPrefix, stripAnsi } from "./log";

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

describe("ANSI styles and colours across lines", () => {
  it("bold, italic, underline and faint become classes, never a style", () => {
    const html = lineHtml(ansiConverter(), "\x1b[1mbold\x1b[0m \x1b[3;4mit\x1b[22;2mfaint");
    expect(html).toContain('<span class="ansi-bold">bold</span>');
    expect(html).toContain('<span class="ansi-italic ansi-underline">it</span>');
    expect(html).toContain('class="ansi-faint ansi-italic ansi-underline">faint');
    expect(html).not.toContain("style=");
  });

  it("256 colours and truecolor take the nearest of the 16 colours", () => {
    const html = lineHtml(ansiConverter(), "\x1b[38;5;196mred\x1b[48;2;0;0;200m on blue");
    expect(html).toContain('<span class="ansi-red-fg">red</span>');
    expect(html).toContain("ansi-blue-bg");
    expect(html).not.toContain("style=");
  });

  it("a colour a line leaves set carries to the lines below until a reset", () => {
    const lines = ["\x1b[31;1mred starts", "still red", "\x1b[0mplain", "plain too"];
    const at = lineStarts(lines);
    expect(at(0)).toEqual(PLAIN);
    expect(at(1)).toMatchObject({ fg: "31", bold: true });
    expect(lineHtml(ansiConverter(), lines[1]!, at(1))).toBe('<span class="ansi-red-fg ansi-bold">still red</span>');
    expect(at(3)).toEqual(PLAIN);
    expect(lineHtml(ansiConverter(), lines[3]!, at(3))).toBe("plain too");
  });

  it("tracks the attributes one code at a time, extended colours whole", () => {
    let s = sgrAfter(PLAIN, "\x1b[1;38;5;208;44mx");
    expect(s).toMatchObject({ bold: true, fg: "38;5;208", bg: "44" });
    expect(sgrPrefix(s)).toBe("\x1b[1;38;5;208;44m");
    s = sgrAfter(s, "\x1b[39;49;22m");
    expect(s).toEqual(PLAIN);
    expect(sgrPrefix(s)).toBe("");
    expect(sgrAfter(PLAIN, "\x1b[48;2;1;2;3;4m").bg).toBe("48;2;1;2;3");
    expect(sgrAfter(PLAIN, "\x1b[48;2;1;2;3;4m").underline).toBe(true);
  });
});
