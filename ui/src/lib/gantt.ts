// The Gantt chart of an instance: one bar per attempt of each task (the ended attempts and
// the task's current one), placed on the instance's time axis.

/** An ended attempt, as the instance's detail lists it. */
export interface EndedAttempt {
  task_instance_id: number;
  attempt: number;
  state: string;
  started_at?: string | null;
  ended_at: string;
  worker?: string | null;
}

/** A task instance's current state. */
export interface CurrentTask {
  id: number;
  task_name: string;
  attempt: number;
  state: string;
  started_at?: string | null;
  ended_at?: string | null;
  worker?: string | null;
}

/** A bar: one attempt, from `start` to `end` (ms since the epoch; `end` is now while it runs). */
export interface Bar {
  task: string;
  attempt: number;
  state: string;
  start: number;
  end: number;
  running: boolean;
  worker?: string | null;
}

/** The bars of `tasks` (in their order), each task's attempts in order; attempts that never
 * started have none. */
export function gantt(tasks: CurrentTask[], attempts: EndedAttempt[], now: number): { rows: { task: string; bars: Bar[] }[]; from: number; to: number } {
  const rows: { task: string; bars: Bar[] }[] = [];
  let from = Infinity;
  let to = -Infinity;
  for (const t of tasks) {
    const bars: Bar[] = [];
    const ended = attempts.filter((a) => a.task_instance_id === t.id).sort((a, b) => a.attempt - b.attempt);
    for (const a of ended) {
      if (!a.started_at) continue;
      bars.push({ task: t.task_name, attempt: a.attempt, state: a.state, start: Date.parse(a.started_at), end: Date.parse(a.ended_at), running: false, worker: a.worker });
    }
    if (t.started_at && !ended.some((a) => a.attempt === t.attempt)) {
      const running = !t.ended_at;
      bars.push({
        task: t.task_name,
        attempt: t.attempt,
        state: t.state,
        start: Date.parse(t.started_at),
        end: t.ended_at ? Date.parse(t.ended_at) : now,
        running,
        worker: t.worker,
      });
    }
    for (const b of bars) {
      from = Math.min(from, b.start);
      to = Math.max(to, b.end);
    }
    if (bars.length) rows.push({ task: t.task_name, bars });
  }
  if (!rows.length) return { rows, from: now, to: now };
  return { rows, from, to: Math.max(to, from + 1) };
}

/** Where a bar sits on the axis, in percent (at least a sliver, so that a short one shows). */
export function place(bar: { start: number; end: number }, from: number, to: number): { left: number; width: number } {
  const span = to - from;
  const left = ((bar.start - from) / span) * 100;
  const width = Math.max(((bar.end - bar.start) / span) * 100, 0.4);
  return { left, width: Math.min(width, 100 - left) };
}

/** The child instances a sub-workflow task started, by task name, read from the messages
 * of its events ("runs child instance 42 (…)"). */
export function childInstances(events: { task_name?: string | null; message: string }[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const e of events) {
    const m = /runs child instance (\d+)/.exec(e.message);
    if (!m || !e.task_name) continue;
    const id = Number(m[1]);
    const list = (out[e.task_name] ??= []);
    if (!list.includes(id)) list.push(id);
  }
  return out;
}
