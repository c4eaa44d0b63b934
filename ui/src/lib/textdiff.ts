// Two versions of a workflow file, line by line (the `diff` package's line diff), with each
// line's number in the old and the new file.
import { diffLines } from "diff";

/** A line of a diff: the same in both, only in the old (`del`), only in the new (`add`). */
export interface DiffLine {
  kind: "same" | "add" | "del";
  text: string;
  /** Its line number in the old file (absent for an added line). */
  old?: number;
  /** Its line number in the new file (absent for a removed line). */
  new?: number;
}

/** The lines of `a` against `b`. */
export function lineDiff(a: string, b: string): DiffLine[] {
  const out: DiffLine[] = [];
  let o = 1;
  let n = 1;
  for (const part of diffLines(a, b)) {
    const lines = part.value.replace(/\n$/, "").split("\n");
    for (const text of lines) {
      if (part.added) out.push({ kind: "add", text, new: n++ });
      else if (part.removed) out.push({ kind: "del", text, old: o++ });
      else out.push({ kind: "same", text, old: o++, new: n++ });
    }
  }
  return out;
}

/** How many lines were added and removed. */
export function diffStat(lines: DiffLine[]): { added: number; removed: number } {
  return {
    added: lines.filter((l) => l.kind === "add").length,
    removed: lines.filter((l) => l.kind === "del").length,
  };
}
