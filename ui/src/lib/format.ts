// Short readings of times and durations for dense tables.

/** `1.2 s`, `3 m 04 s`, `2 h 05 m`; an absent duration is an em dash. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} m ${String(Math.floor(s % 60)).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} m`;
}

// One formatter for every time shown: `toLocaleString` with options makes a new one per call,
// which a live page (hundreds of times, many renders a second) pays for dearly.
let timeFormat: Intl.DateTimeFormat | undefined;

/** A time in the browser's zone, to the second; absent is an em dash. */
export function time(at: string | null | undefined): string {
  if (!at) return "—";
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return at;
  timeFormat ??= new Intl.DateTimeFormat(undefined, {
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    second: "numeric",
    hour12: false,
  });
  return timeFormat.format(d);
}

/** Milliseconds from `start` to `end` (or to now while running). */
export function elapsed(start: string | null | undefined, end: string | null | undefined): number | null {
  if (!start) return null;
  const from = Date.parse(start);
  const to = end ? Date.parse(end) : Date.now();
  return Math.max(0, to - from);
}
