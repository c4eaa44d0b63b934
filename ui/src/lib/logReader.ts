// The log viewer's reader: which byte ranges of an attempt's log to ask the server for as the
// view moves, kept in a bounded `LogWindow`. It opens a log at its end (the API's negative
// `offset`: the last bytes), reads earlier ranges as the view nears the top of what is held
// and later ones as it nears the bottom (or as the attempt writes), and jumps anywhere by
// byte. One read at a time; the page renders after each change.
import { LogWindow, MAX_WINDOW_BYTES, RANGE_BYTES, makeRange } from "./logWindow";

/** One piece of the log as the API answers it (`LogChunk`). */
export interface Chunk {
  /** The byte `data` starts at. */
  offset: number;
  /** The byte after it. */
  next_offset: number;
  /** The log's length when read. */
  size: number;
  data: string;
  /** The attempt has ended and this piece reaches the end. */
  complete: boolean;
  state: string;
}

/** Reads up to `limit` bytes from `offset` (negative: that many bytes before the end). */
export type ReadFn = (offset: number, limit: number) => Promise<Chunk>;

/** Lines from the edge of what is held at which the next range is read. */
export const EDGE_LINES = 200;

/** What a change did to the lines, so that the view can keep still. */
export interface Moved {
  /** Lines added before the first one shown before (a read of an earlier range). */
  added: number;
  /** Lines dropped from the start (a later range pushed them out of the window). */
  dropped: number;
  /** Everything was replaced (a jump). */
  jumped: boolean;
}

const STILL: Moved = { added: 0, dropped: 0, jumped: false };

/** Which way the user last moved the view (`null`: not since the last jump). */
export type Intent = "up" | "down" | null;

/** What `wanted` needs to know of the reader. */
export interface Held {
  start: number;
  end: number;
  size: number;
  complete: boolean;
  /** Whether one more range would push another out. */
  full: boolean;
}

/**
 * Which range, if any, the view at lines [`first`, `last`] of `count` held needs next: the
 * one before, near the top, or after, near the bottom, in the way the user moves. A full
 * window reads only that way, so that a view near both edges (a few long lines held) does
 * not read one way and then the other, each read pushing out what the other brought, without
 * end; before the user has moved, it reads either way until it is full.
 */
export function wanted(r: Held, first: number, last: number, count: number, intent: Intent): "earlier" | "later" | null {
  const earlier = first < EDGE_LINES && r.start > 0;
  const later = last >= count - EDGE_LINES && (r.end < r.size || !r.complete);
  if (intent === "up" || (intent === null && !r.full)) {
    if (earlier) return "earlier";
  }
  if (intent === "down" || (intent === null && !r.full)) {
    if (later) return "later";
  }
  return null;
}

/** A jump the user asked for: to the end (and follow), the start, or a byte. */
export type Jump = { to: "end" } | { to: "start" } | { to: "byte"; at: number };

/** The read to do next. */
export type Step = { read: "end" } | { read: "at"; at: number } | { read: "earlier" } | { read: "later" };

/**
 * What to read next: a jump asked for first; while following, the end (again: a running
 * attempt's new output); else the range the view at lines [`first`, `last`] nears.
 */
export function nextStep(
  r: Held & { atEnd: boolean },
  jump: Jump | null,
  follow: boolean,
  view: { first: number; last: number; count: number; intent: Intent },
): Step | null {
  if (jump) return jump.to === "end" ? { read: "end" } : { read: "at", at: jump.to === "start" ? 0 : jump.at };
  if (follow) return !r.atEnd ? { read: "end" } : !r.complete ? { read: "later" } : null;
  const way = wanted(r, view.first, view.last, view.count, view.intent);
  return way && { read: way };
}

/** The reader of one attempt's log. */
export class LogReader {
  readonly window: LogWindow;
  /** The log's length as last read. */
  size = 0;
  /** Whether the attempt has ended and its end is read. */
  complete = false;
  /** The task's state as last read. */
  state: string | undefined;
  /** The number (from 0) of the first line held, when it is known (reached from byte 0). */
  firstLine: number | null = null;
  /** Bytes of text received so far, all reads together. */
  fetched = 0;
  private busy = false;

  constructor(
    private readonly read: ReadFn,
    private readonly maxBytes = MAX_WINDOW_BYTES,
  ) {
    this.window = new LogWindow(maxBytes);
  }

  /** The first byte held. */
  get start(): number {
    return this.window.start;
  }

  /** The byte after the last one held. */
  get end(): number {
    return this.window.end;
  }

  /** Whether one more range would push another out of the window. */
  get full(): boolean {
    return this.window.bytes + RANGE_BYTES > this.maxBytes;
  }

  /** Whether the end of the log, as far as it is written, is held. */
  get atEnd(): boolean {
    return this.end >= this.size;
  }

  /** Carries out `step` (`null`: a read was under way, nothing done). */
  take(step: Step): Promise<Moved | null> {
    switch (step.read) {
      case "end":
        return this.openEnd();
      case "at":
        return this.openAt(step.at);
      case "earlier":
        return this.earlier();
      case "later":
        return this.later();
    }
  }

  /** Replaces what is held by the last range of the log. */
  openEnd(): Promise<Moved | null> {
    return this.jump(-RANGE_BYTES);
  }

  /** Replaces what is held by the range at byte `offset` (0: the start). */
  openAt(offset: number): Promise<Moved | null> {
    return this.jump(Math.max(0, Math.min(offset, Math.max(0, this.size - RANGE_BYTES))));
  }

  /** Reads the range before the first one held. */
  earlier(): Promise<Moved | null> {
    const start = this.start;
    if (start === 0) return Promise.resolve(STILL);
    const from = Math.max(0, start - RANGE_BYTES);
    return this.once(async () => {
      const c = await this.fetch(from, start - from);
      if (c.next_offset !== start) return this.resetTo(c);
      const added = this.window.prepend(makeRange(c.offset, c.next_offset, c.data));
      if (c.offset === 0) this.firstLine = 0;
      else if (this.firstLine !== null) this.firstLine -= added;
      return { added, dropped: 0, jumped: false };
    });
  }

  /** Reads what follows the last range held (new output, while the attempt runs). */
  later(): Promise<Moved | null> {
    return this.once(async () => {
      const end = this.end;
      const c = await this.fetch(end, RANGE_BYTES);
      if (c.offset !== end) return this.resetTo(c);
      const dropped = this.window.append(makeRange(c.offset, c.next_offset, c.data));
      if (this.firstLine !== null) this.firstLine += dropped;
      return { added: 0, dropped, jumped: false };
    });
  }

  private jump(offset: number): Promise<Moved | null> {
    return this.once(async () => this.resetTo(await this.fetch(offset, RANGE_BYTES)));
  }

  private resetTo(c: Chunk): Moved {
    this.window.reset(makeRange(c.offset, c.next_offset, c.data));
    this.firstLine = c.offset === 0 ? 0 : null;
    return { added: 0, dropped: 0, jumped: true };
  }

  private async fetch(offset: number, limit: number): Promise<Chunk> {
    const c = await this.read(offset, limit);
    this.fetched += c.next_offset - c.offset;
    this.size = Math.max(c.size, c.next_offset);
    // An attempt that has ended does not start again: once complete, always.
    this.complete ||= c.complete;
    this.state = c.state;
    return c;
  }

  /** Runs `step` unless a read is under way (then: `null`, nothing done). */
  private async once(step: () => Promise<Moved>): Promise<Moved | null> {
    if (this.busy) return null;
    this.busy = true;
    try {
      return await step();
    } finally {
      this.busy = false;
    }
  }
}
