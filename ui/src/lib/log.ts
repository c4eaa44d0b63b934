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

/** One line as HTML (its text escaped, its colours as `ansi-*` classes). A converter keeps
 * the colour a line leaves set for the next one it converts; the viewer, which converts
 * lines as they come into view, gives each line its own. */
export function lineHtml(converter: AnsiUp, line: string): string {
  return converter.ansi_to_html(line);
}
