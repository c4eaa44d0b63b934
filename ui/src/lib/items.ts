// A mapped task's items (`map:`) as the instance page shows them: its counts by state in a
// few words, the state filter of its items table (kept in the URL), and the pages of
// `GET /instances/{id}/items` merged into one list.
import type { Schemas } from "../api/client";
import { TASK_STATES } from "./states";

/** A task state, as the API names it. */
export type TaskState = (typeof TASK_STATES)[number];

/** One part of a mapped task's counts: how many items are in `state` (`null`: not started). */
export interface CountPart {
  state: TaskState | null;
  count: number;
  text: string;
}

/** The short marks of the states read at a glance; the others are spelled out. */
const MARKS: Partial<Record<TaskState, string>> = { succeeded: "✓", failed: "✗", running: "running" };

/** The order counts are read in: the outcomes first, then what still moves. */
const ORDER: TaskState[] = ["succeeded", "failed", "running", "dispatched", "submitted", "retry_wait", "need_failover", "paused", "killed", "skipped"];

/** Whether `s` is a task state the UI knows. */
export function isTaskState(s: string | null | undefined): s is TaskState {
  return TASK_STATES.includes(s as TaskState);
}

/**
 * The parts of `counts`: succeeded and failed always (`196 ✓`, `4 ✗`), any other state
 * that has items, and the items not started (`0 waiting`) last.
 */
export function countParts(counts: Schemas["ItemCounts"]): CountPart[] {
  const by = new Map<string, number>();
  for (const s of counts.states) by.set(s.state, (by.get(s.state) ?? 0) + s.count);
  const parts: CountPart[] = [];
  for (const state of ORDER) {
    const count = by.get(state) ?? 0;
    if (count === 0 && state !== "succeeded" && state !== "failed") continue;
    parts.push({ state, count, text: `${count} ${MARKS[state] ?? state.replace("_", " ")}` });
  }
  for (const [state, count] of by) {
    if (!isTaskState(state)) parts.push({ state: null, count, text: `${count} ${state}` });
  }
  parts.push({ state: null, count: counts.not_started, text: `${counts.not_started} waiting` });
  return parts;
}

/** `196 ✓ · 4 ✗ · 0 waiting`: the counts in one line. */
export function countsText(counts: Schemas["ItemCounts"]): string {
  return countParts(counts)
    .map((p) => p.text)
    .join(" · ");
}

/** The counts of a task instance that is a mapped task, or undefined for any other. */
export function mappedCounts(t: Schemas["TaskInstance"] | undefined): Schemas["ItemCounts"] | undefined {
  const m = t?.map;
  return m && "mapped" in m ? m.mapped : undefined;
}

/** The filters of the items table, `all` first: the URL's `items=` is one of them. */
export const ITEM_FILTERS = ["all", "failed", "running", "succeeded", "retry_wait", "dispatched", "submitted", "killed", "paused", "need_failover"] as const;

/** One of the filters. */
export type ItemFilter = (typeof ITEM_FILTERS)[number];

/** The filter the URL's `items=` names; anything else (absent, mistyped) is `all`. */
export function itemFilter(s: string | null): ItemFilter {
  return ITEM_FILTERS.includes(s as ItemFilter) ? (s as ItemFilter) : "all";
}

/**
 * The items of pages read one after the other, in list order, each once: a page re-read
 * while items move on may repeat a row of the page before it (the newer read wins).
 */
export function mergePages(pages: Schemas["ItemList"][]): Schemas["TaskInstance"][] {
  const at = new Map<number, number>();
  const out: Schemas["TaskInstance"][] = [];
  for (const page of pages) {
    for (const item of page.items) {
      const seen = at.get(item.id);
      if (seen === undefined) {
        at.set(item.id, out.length);
        out.push(item);
      } else out[seen] = item;
    }
  }
  return out;
}
