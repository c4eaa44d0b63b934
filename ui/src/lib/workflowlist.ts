// The workflows list of a project, computed in the page from one answer of `GET /workflows`
// (each workflow with its recent runs): the search, the sort by a column, and the squares of
// the last runs.

import { stateTone, type Tone } from "./states";

/** What a row needs of a workflow. */
export interface Row {
  name: string;
  latest_version: number;
  recent_runs?: { id: number; state: string; submitted_at: string; started_at?: string | null; ended_at?: string | null; duration_ms?: number | null }[];
}

/** The columns a list sorts by. */
export const SORT_KEYS = ["name", "version", "last_start", "state"] as const;
export type SortKey = (typeof SORT_KEYS)[number];

/** A sort key read from the URL, or the default (by name). */
export function sortKey(s: string | null): SortKey {
  return (SORT_KEYS as readonly string[]).includes(s ?? "") ? (s as SortKey) : "name";
}

/** When the last run started (or, not started yet, was asked for), in ms; null: never run. */
export function lastStart(r: Row): number | null {
  const last = r.recent_runs?.[0];
  if (!last) return null;
  return Date.parse(last.started_at ?? last.submitted_at);
}

/** The rows whose name holds `q` (any case). */
export function search<T extends Row>(rows: T[], q: string): T[] {
  const needle = q.trim().toLowerCase();
  return needle ? rows.filter((r) => r.name.toLowerCase().includes(needle)) : rows;
}

/** The rows sorted by `key`, ascending or not; ties (and workflows never run, which go last
 * either way) by name. */
export function sortRows<T extends Row>(rows: T[], key: SortKey, ascending: boolean): T[] {
  const byName = (a: T, b: T) => a.name.localeCompare(b.name);
  const value = (r: T): number | string | null => {
    switch (key) {
      case "name":
        return r.name;
      case "version":
        return r.latest_version;
      case "last_start":
        return lastStart(r);
      case "state":
        return r.recent_runs?.[0]?.state ?? null;
    }
  };
  return [...rows].sort((a, b) => {
    const [x, y] = [value(a), value(b)];
    if (x === null || y === null) return x === y ? byName(a, b) : x === null ? 1 : -1;
    const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
    return c === 0 ? byName(a, b) : ascending ? c : -c;
  });
}

/** One square of the last runs. */
export interface Square {
  id: number;
  tone: Tone;
  state: string;
}

/** The squares of the last `n` runs, oldest on the left, newest on the right. */
export function runSquares(r: Row, n = 10): Square[] {
  return (r.recent_runs ?? [])
    .slice(0, n)
    .reverse()
    .map((run) => ({ id: run.id, state: run.state, tone: stateTone(run.state) }));
}
