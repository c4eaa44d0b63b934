// What a backfill request stands for, computed in the page before it is sent: the days of a
// range or a list, and (for a cron workflow) the fire times of the server's preview that
// fall on those days. The server computes the same again when the backfill is made.

/** At most this many instances in one backfill (the server's limit). */
export const MAX_BACKFILL = 10_000;

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Whether `s` is a real `YYYY-MM-DD` date. */
export function isDate(s: string): boolean {
  if (!DATE.test(s)) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

/** The day after `day` (`YYYY-MM-DD`, calendar arithmetic, no time zone involved). */
export function nextDay(day: string): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

/** The day before `day`. */
export function previousDay(day: string): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - 1);
  return d.toISOString().slice(0, 10);
}

/** Every day from `from` to `to`, both included; at most `limit + 1` of them (so that a
 * caller can tell "too many"). */
export function daysBetween(from: string, to: string, limit = MAX_BACKFILL): string[] {
  const out: string[] = [];
  for (let d = from; d <= to && out.length <= limit; d = nextDay(d)) out.push(d);
  return out;
}

/** The dates of a list typed by hand (commas, spaces or lines between them), sorted and
 * without repeats; the entries that are not dates are returned apart. */
export function parseDates(text: string): { dates: string[]; bad: string[] } {
  const words = text.split(/[\s,;]+/).filter(Boolean);
  const bad = words.filter((w) => !isDate(w));
  const dates = [...new Set(words.filter(isDate))].sort();
  return { dates, bad };
}

/** What the form says, checked: the days it covers, or what is wrong with it. */
export type BackfillForm =
  | { mode: "range"; from: string; to: string }
  | { mode: "list"; text: string };

/** The days a form covers (ascending), or the reason it cannot be sent. */
export function formDays(form: BackfillForm): { days: string[] } | { error: string } {
  if (form.mode === "range") {
    if (!isDate(form.from) || !isDate(form.to)) return { error: "give both dates as YYYY-MM-DD" };
    if (form.to < form.from) return { error: `the end (${form.to}) is before the start (${form.from})` };
    const days = daysBetween(form.from, form.to);
    if (days.length > MAX_BACKFILL) return { error: `more than ${MAX_BACKFILL} instances in one backfill` };
    return { days };
  }
  const { dates, bad } = parseDates(form.text);
  if (bad.length) return { error: `not a date: ${bad.slice(0, 3).join(", ")}` };
  if (!dates.length) return { error: "give at least one date" };
  return { days: dates };
}

/** The fire times (as the server writes them, in the schedule's offset, so that their
 * first ten characters are the schedule's local date) that fall on one of `days`. */
export function firesOnDays(fires: string[], days: string[]): string[] {
  const on = new Set(days);
  return [...new Set(fires)].filter((f) => on.has(f.slice(0, 10))).sort();
}

/** The schedule times in the order their instances start. */
export function startOrder<T>(times: T[], reverse: boolean): T[] {
  return reverse ? [...times].reverse() : times;
}

/** How far a backfill has got: the share of its instances that ended, 0 to 1. */
export function doneShare(p: { succeeded: number; failed: number; stopped: number; cancelled: number; running: number; waiting: number }): number {
  const total = p.succeeded + p.failed + p.stopped + p.cancelled + p.running + p.waiting;
  return total === 0 ? 1 : (p.succeeded + p.failed + p.stopped + p.cancelled) / total;
}
