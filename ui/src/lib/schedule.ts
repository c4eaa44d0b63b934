// Readings of a schedule: its trigger in words (cron by cronstrue), and fire times as the
// server writes them (in the schedule's own offset), shown in that offset, not the browser's.
import cronstrue from "cronstrue";

/** The trigger fields of a schedule block. */
export interface ScheduleBlock {
  cron?: string;
  fixed_rate?: string;
  fixed_delay?: string;
  timezone?: string;
  misfire?: string;
  max_catchup?: number;
  concurrency?: string;
  start?: string;
  end?: string;
}

/** A cron expression in words ("At 02:00 AM, only on Monday"), or why it cannot be read. */
export function cronText(expr: string): { text: string } | { error: string } {
  try {
    return { text: cronstrue.toString(expr, { use24HourTimeFormat: true, verbose: false }) };
  } catch (e) {
    return { error: typeof e === "string" ? e : e instanceof Error ? e.message : "not a cron expression" };
  }
}

/** A schedule's trigger in words. */
export function triggerText(s: ScheduleBlock): string {
  if (s.cron) {
    const r = cronText(s.cron);
    return "text" in r ? r.text : s.cron;
  }
  if (s.fixed_rate) return `Every ${s.fixed_rate}, from one fire to the next`;
  if (s.fixed_delay) return `${s.fixed_delay} after the previous instance ended`;
  return "no trigger";
}

/** The zone a schedule fires in: its own, else its workflow's, else UTC. */
export function scheduleZone(s: ScheduleBlock, workflowZone?: string | null): string {
  return s.timezone ?? workflowZone ?? "UTC";
}

/** A fire time as the server wrote it (`2026-12-04T02:00:00+09:00`), read in its own
 * offset: `2026-12-04 02:00:00 +09:00` and the weekday; anything else is shown as is. */
export function fireInZone(at: string): { date: string; clock: string; offset: string; weekday: string } | null {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|[+-]\d{2}:\d{2})$/.exec(at);
  if (!m) return null;
  const [, date, clock, offset] = m as unknown as [string, string, string, string];
  const weekday = new Date(`${date}T00:00:00Z`).toLocaleDateString("en", { weekday: "short", timeZone: "UTC" });
  return { date, clock, offset: offset === "Z" ? "+00:00" : offset, weekday };
}

/** `Mon 2026-12-04 02:00:00 +09:00`. */
export function fireText(at: string): string {
  const f = fireInZone(at);
  return f ? `${f.weekday} ${f.date} ${f.clock} ${f.offset}` : at;
}
