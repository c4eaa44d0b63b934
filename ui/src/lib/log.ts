// The log viewer's model: an attempt's log read by byte ranges (the API's `offset` and
// `next_offset`), split into lines as pages arrive, rendered from ANSI colour codes to
// escaped HTML with classes (no inline styles: the page's CSP allows none).
import { AnsiUp } from "ansi_up";

/** What the viewer holds of one attempt's log. */
export interface LogState {
  /** Complete lines so far. */
  lines: string[];
  /** The text after the last newline (a line still being written). */
  partial: string;
  /** Where to read next. */
  offset: number;
  /** True once the attempt has ended and all of it was read. */
  complete: boolean;
}

/** Nothing read yet. */
export const EMPTY_LOG: LogState = { lines: [], partial: "", offset: 0, complete: false };

/** One page of the log as the API answers it. */
export interface LogPage {
  data: string;
  next_offset: number;
  complete: boolean;
}

/** The state after a page read at `state.offset`. */
export function appendPage(state: LogState, page: LogPage): LogState {
  const text = state.partial + page.data;
  const parts = text.split("\n");
  const partial = parts.pop() ?? "";
  return {
    lines: parts.length ? state.lines.concat(parts) : state.lines,
    partial,
    offset: page.next_offset,
    complete: page.complete,
  };
}

/** The lines to show: the complete ones and the one being written. */
export function visibleLines(state: LogState): string[] {
  return state.partial ? state.lines.concat([state.partial]) : state.lines;
}

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

/** One line as HTML (its text escaped, its colours as `ansi-*` classes). */
export function lineHtml(converter: AnsiUp, line: string): string {
  return converter.ansi_to_html(line);
}

/**
 * The lines of one attempt's log as HTML, converted once each as pages arrive (a colour
 * set on one line carries to the next, as in a terminal), so that a long log costs the
 * same per page however much came before. The line still being written is converted
 * each time it is shown, on its own (a colour carried into it shows once it is complete).
 */
export class LogLines {
  private state: LogState = EMPTY_LOG;
  private html: string[] = [];
  private converter = ansiConverter();

  /** Adds a page read at [`LogLines.offset`]. */
  append(page: LogPage) {
    const before = this.state.lines.length;
    this.state = appendPage(this.state, page);
    for (let i = before; i < this.state.lines.length; i++) this.html.push(lineHtml(this.converter, this.state.lines[i]!));
  }

  /** Where to read next. */
  get offset(): number {
    return this.state.offset;
  }

  /** Whether the attempt has ended and everything was read. */
  get complete(): boolean {
    return this.state.complete;
  }

  /** How many lines there are to show (the one being written included). */
  get count(): number {
    return this.state.lines.length + (this.state.partial ? 1 : 0);
  }

  /** The text of every line to show. */
  text(): string[] {
    return visibleLines(this.state);
  }

  /** Line `i` as HTML (escaped text, colours as classes). */
  htmlAt(i: number): string {
    if (i < this.html.length) return this.html[i]!;
    if (i === this.state.lines.length && this.state.partial) return lineHtml(ansiConverter(), this.state.partial);
    return "";
  }
}
