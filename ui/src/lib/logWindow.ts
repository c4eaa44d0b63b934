// The log viewer's window on a large log: a bounded run of contiguous byte ranges of the
// log held in memory (read on demand as the view moves), split into lines. A range that
// starts inside a line keeps that partial first line apart: it is joined with the range
// before it once that is read, and not shown while it is the first range held.

/** How many bytes one read asks for. */
export const RANGE_BYTES = 256 << 10;

/** At most this many bytes of text are held; ranges far from the view are dropped. */
export const MAX_WINDOW_BYTES = 4 << 20;

/** One byte range of the log, split at its newlines. */
export interface Range {
  /** The first byte. */
  start: number;
  /** The byte after the last one. */
  end: number;
  /** The text before its first newline (all of it when it has none). */
  head: string;
  /** The complete lines between its first and its last newline. */
  body: string[];
  /** The text after its last newline ("" when it ends with one). */
  tail: string;
  /** Whether it has a newline at all. */
  broken: boolean;
}

/** A range read from `start` whose text is `data`, ending at `end`. */
export function makeRange(start: number, end: number, data: string): Range {
  const parts = data.split("\n");
  if (parts.length === 1) return { start, end, head: data, body: [], tail: "", broken: false };
  const head = parts.shift()!;
  const tail = parts.pop()!;
  return { start, end, head, body: parts, tail, broken: true };
}

/** The lines of contiguous ranges; the partial first line is left out when the first range starts past byte 0. */
export function linesOf(ranges: Range[]): string[] {
  const out: string[] = [];
  if (!ranges.length) return out;
  // `null`: the text before the first newline is part of a line whose start is not held.
  let carry: string | null = ranges[0]!.start === 0 ? "" : null;
  for (const r of ranges) {
    if (!r.broken) {
      carry = carry === null ? null : carry + r.head;
      continue;
    }
    if (carry !== null) out.push(carry + r.head);
    for (const line of r.body) out.push(line);
    carry = r.tail;
  }
  if (carry) out.push(carry);
  return out;
}

/**
 * The ranges held of one attempt's log, always contiguous: read earlier ones before the
 * first, later ones after the last, and jumps replace them all. Past
 * [`MAX_WINDOW_BYTES`], the ranges at the other end from where one was added are dropped.
 */
export class LogWindow {
  private ranges: Range[] = [];
  private cache: string[] | null = null;

  constructor(private readonly maxBytes = MAX_WINDOW_BYTES) {}

  /** The first byte held (0 when nothing is). */
  get start(): number {
    return this.ranges[0]?.start ?? 0;
  }

  /** The byte after the last one held. */
  get end(): number {
    return this.ranges[this.ranges.length - 1]?.end ?? 0;
  }

  /** How many bytes are held. */
  get bytes(): number {
    return this.end - this.start;
  }

  /** The ranges held, first to last. */
  held(): readonly Range[] {
    return this.ranges;
  }

  /** Forgets everything and holds `range` alone (a jump). */
  reset(range: Range) {
    this.ranges = [range];
    this.cache = null;
  }

  /**
   * Adds a range that ends where the first held one starts; drops ranges from the end past
   * the bound. Returns how many lines were added at the start (to keep the view still).
   */
  prepend(range: Range): number {
    if (this.ranges.length && range.end !== this.start) throw new Error(`range ends at ${range.end}, the window starts at ${this.start}`);
    const before = this.lines().length;
    this.ranges.unshift(range);
    this.cache = null;
    const added = this.lines().length - before;
    if (this.bytes > this.maxBytes) {
      while (this.ranges.length > 1 && this.bytes > this.maxBytes) this.ranges.pop();
      this.cache = null;
    }
    return added;
  }

  /**
   * Adds text read from where the last held range ends; drops ranges from the start past
   * the bound. Returns how many lines were dropped at the start (to keep the view still).
   */
  append(range: Range): number {
    if (this.ranges.length && range.start !== this.end) throw new Error(`range starts at ${range.start}, the window ends at ${this.end}`);
    if (range.start === range.end && this.ranges.length) return 0;
    const last = this.ranges[this.ranges.length - 1];
    // Text read while the attempt writes: grow the last range rather than keep many small ones.
    if (last && last.end - last.start + (range.end - range.start) <= RANGE_BYTES) {
      const text = rangeText(last) + rangeText(range);
      this.ranges[this.ranges.length - 1] = makeRange(last.start, range.end, text);
    } else {
      this.ranges.push(range);
    }
    let dropped = 0;
    this.cache = null;
    while (this.ranges.length > 1 && this.bytes > this.maxBytes) {
      const lines = this.lines().length;
      this.ranges.shift();
      this.cache = null;
      dropped += lines - this.lines().length;
    }
    return dropped;
  }

  /** The lines held, in order (computed once per change). */
  lines(): string[] {
    if (!this.cache) this.cache = linesOf(this.ranges);
    return this.cache;
  }
}

/** The text of a range, as read. */
export function rangeText(r: Range): string {
  return r.broken ? [r.head, ...r.body, r.tail].join("\n") : r.head;
}

/** "63 bytes", "12 KiB", "1.5 MiB": a byte count for people. */
export function bytesText(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1 << 20) return `${Math.round(bytes / 1024)} KiB`;
  return mib(bytes);
}

/** "1.5 MiB": a byte count for people. */
export function mib(bytes: number): string {
  const m = bytes / (1 << 20);
  return `${m < 10 ? m.toFixed(1) : Math.round(m)} MiB`;
}
