// The log viewer's lines: searched with their ANSI codes ignored, and rendered from ANSI
// colour codes to escaped HTML with classes (no inline styles: the page's CSP allows none).
// Which byte ranges are held is `logWindow.ts` and `logReader.ts`.
import { AnsiUp } from "ansi_up";

/** The indexes of the lines that contain `query` (case-insensitive, ANSI codes ignored). */
export function searchLines(lines: string[], query: string): number[] {
  if (!query) return [];
  const q = query.toLowerCase();
  const out: number[] = [];
  lines.forEach((line, i) => {
    if (stripAnsi(line).toLowerCase().includes(q)) out.push(i);
  });
  return out;
}

// CSI sequences (colours, cursor moves) and OSC sequences (titles, links).
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)/g;

/** A line without its escape codes. */
export function stripAnsi(line: string): string {
  return line.replace(ANSI, "");
}

/** A converter from ANSI text to HTML: escaping on, classes for colours, no links. */
export function ansiConverter(): AnsiUp {
  const a = new AnsiUp();
  a.use_classes = true;
  a.escape_html = true;
  a.url_allowlist = {};
  return a;
}

/**
 * The SGR attributes (colours, bold, …) in force at some point of a log: what a line leaves
 * set carries to the next one, as in a terminal. `fg` and `bg` are the SGR codes that set
 * them (`31`, `38;5;208`, `48;2;10;20;30`).
 */
export type Sgr = { bold: boolean; faint: boolean; italic: boolean; underline: boolean; fg: string | null; bg: string | null };

/** Nothing set: how a log starts. */
export const PLAIN: Sgr = { bold: false, faint: false, italic: false, underline: false, fg: null, bg: null };

// SGR sequences only (`ESC [ params m`): the ones that change attributes.
const SGR = /\x1b\[([0-9;:]*)m/g;

/** The attributes in force after `line`, given those before it. */
export function sgrAfter(before: Sgr, line: string): Sgr {
  if (!line.includes("\x1b[")) return before;
  let s = before;
  for (const m of line.matchAll(SGR)) s = applySgr(s, m[1]!.split(/[;:]/));
  return s;
}

/** One SGR sequence's codes applied, in order. */
function applySgr(before: Sgr, codes: string[]): Sgr {
  const s = { ...before };
  for (let i = 0; i < codes.length; i++) {
    const n = codes[i] === "" ? 0 : Number(codes[i]);
    if (n === 0) Object.assign(s, PLAIN);
    else if (n === 1) s.bold = true;
    else if (n === 2) s.faint = true;
    else if (n === 3) s.italic = true;
    else if (n === 4) s.underline = true;
    else if (n === 21) s.bold = false;
    else if (n === 22) (s.bold = false), (s.faint = false);
    else if (n === 23) s.italic = false;
    else if (n === 24) s.underline = false;
    else if ((n >= 30 && n <= 37) || (n >= 90 && n <= 97)) s.fg = String(n);
    else if ((n >= 40 && n <= 47) || (n >= 100 && n <= 107)) s.bg = String(n);
    else if (n === 39) s.fg = null;
    else if (n === 49) s.bg = null;
    else if (n === 38 || n === 48) {
      const width = codes[i + 1] === "5" ? 2 : codes[i + 1] === "2" ? 4 : 0;
      const code = codes.slice(i, i + 1 + width).join(";");
      if (n === 38) s.fg = code;
      else s.bg = code;
      i += width;
    }
  }
  return s;
}

/** The SGR sequence that sets `s` from nothing ("" when nothing is set). */
export function sgrPrefix(s: Sgr): string {
  const codes = [s.bold && "1", s.faint && "2", s.italic && "3", s.underline && "4", s.fg, s.bg].filter(Boolean);
  return codes.length ? `\x1b[${codes.join(";")}m` : "";
}

/**
 * The attributes in force at the start of each line of `lines`, worked out as far as asked
 * and kept: a view that shows lines near the end works them out once, cheaply (only lines
 * with an escape are parsed).
 */
export function lineStarts(lines: string[]): (i: number) => Sgr {
  const starts: Sgr[] = [PLAIN];
  return (i) => {
    for (let k = starts.length; k <= i; k++) starts.push(sgrAfter(starts[k - 1]!, lines[k - 1] ?? ""));
    return starts[i] ?? PLAIN;
  };
}

// The styles ansi_up writes as attributes, which the page's CSP does not apply: as classes.
const STYLE_CLASSES: Record<string, string> = {
  "font-weight:bold": "ansi-bold",
  "opacity:0.7": "ansi-faint",
  "font-style:italic": "ansi-italic",
  "text-decoration:underline": "ansi-underline",
};

// The 16 colours' classes and their values, for the nearest one to a 256-colour or truecolor
// code (which ansi_up writes as an rgb() style).
const NAMED: [string, number[]][] = [
  ["black", [0, 0, 0]], ["red", [187, 0, 0]], ["green", [0, 187, 0]], ["yellow", [187, 187, 0]],
  ["blue", [0, 0, 187]], ["magenta", [187, 0, 187]], ["cyan", [0, 187, 187]], ["white", [255, 255, 255]],
  ["bright-black", [85, 85, 85]], ["bright-red", [255, 85, 85]], ["bright-green", [0, 255, 0]],
  ["bright-yellow", [255, 255, 85]], ["bright-blue", [85, 85, 255]], ["bright-magenta", [255, 85, 255]],
  ["bright-cyan", [85, 255, 255]], ["bright-white", [255, 255, 255]],
];

function nearest(rgb: number[]): string {
  const d = (c: number[]) => c.reduce((sum, v, k) => sum + (v - rgb[k]!) ** 2, 0);
  return NAMED.reduce((best, c) => (d(c[1]) < d(best[1]) ? c : best))[0];
}

/** One `style` attribute's declarations as classes. */
function styleClasses(style: string): string[] {
  return style.split(";").flatMap((decl) => {
    const known = STYLE_CLASSES[decl];
    if (known) return [known];
    const rgb = /^(color|background-color):rgb\((\d+),(\d+),(\d+)\)$/.exec(decl);
    if (!rgb) return [];
    return [`ansi-${nearest([+rgb[2]!, +rgb[3]!, +rgb[4]!])}-${rgb[1] === "color" ? "fg" : "bg"}`];
  });
}

// ansi_up's spans (the text between them is HTML-escaped, so none is matched in it).
const SPAN = /<span( style="([^"]*)")?( class="([^"]*)")?>/g;

/**
 * One line as HTML (its text escaped, its attributes as `ansi-*` classes, never a `style`),
 * starting with the attributes `before` left in force by the lines above it.
 */
export function lineHtml(converter: AnsiUp, line: string, before: Sgr = PLAIN): string {
  const html = converter.ansi_to_html(sgrPrefix(before) + line);
  return html.replace(SPAN, (_, _s, style: string | undefined, _c, cls: string | undefined) => {
    const classes = [...(cls ? cls.split(" ") : []), ...(style ? styleClasses(style) : [])];
    return classes.length ? `<span class="${classes.join(" ")}">` : "<span>";
  });
}
