import { describe, expect, it } from "vitest";
import { diffStat, lineDiff } from "./textdiff";

describe("line diff", () => {
  it("numbers the lines of both files", () => {
    const d = lineDiff("name: w\ntasks:\n  - a\n", "name: w\ntasks:\n  - b\n  - c\n");
    expect(d).toEqual([
      { kind: "same", text: "name: w", old: 1, new: 1 },
      { kind: "same", text: "tasks:", old: 2, new: 2 },
      { kind: "del", text: "  - a", old: 3 },
      { kind: "add", text: "  - b", new: 3 },
      { kind: "add", text: "  - c", new: 4 },
    ]);
    expect(diffStat(d)).toEqual({ added: 2, removed: 1 });
  });
  it("says nothing changed for the same text, even without a final newline", () => {
    expect(diffStat(lineDiff("a\nb", "a\nb"))).toEqual({ added: 0, removed: 0 });
  });
});
