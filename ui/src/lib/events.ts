// The event log's filters (all in the page's URL) and how live events join a loaded page.
import type { Schemas } from "../api/client";

/** The kinds of event, as the API names them. */
export const EVENT_KINDS: Schemas["Event"]["kind"][] = [
  "instance_submitted",
  "instance_started",
  "instance_succeeded",
  "instance_failed",
  "instance_stopped",
  "instance_paused",
  "instance_resumed",
  "instance_recovered",
  "instance_adopted",
  "task_dispatched",
  "task_started",
  "task_succeeded",
  "task_failed",
  "task_retrying",
  "task_timeout",
  "task_killed",
  "task_need_failover",
  "task_healthy",
  "task_restarted",
  "worker_lost",
  "schedule_fired",
  "schedule_misfired",
  "backfill_started",
  "backfill_ended",
];

/** The filters of the event log. */
export interface EventFilters {
  kind?: Schemas["Event"]["kind"];
  project?: string;
  workflow?: string;
  instance?: number;
}

/** The filters a URL's query says (unknown kinds and bad ids are dropped). */
export function filtersOf(q: URLSearchParams): EventFilters {
  const f: EventFilters = {};
  const kind = q.get("kind");
  if (kind && (EVENT_KINDS as string[]).includes(kind)) f.kind = kind as EventFilters["kind"];
  const project = q.get("project")?.trim();
  if (project) f.project = project;
  const workflow = q.get("workflow")?.trim();
  if (workflow) f.workflow = workflow;
  const instance = Number(q.get("instance"));
  if (Number.isInteger(instance) && instance > 0) f.instance = instance;
  return f;
}

/** Live events (any order) put before a loaded page (newest first): newest first, each id
 * once, at most `cap` kept. */
export function mergeNewest<T extends { id: number }>(live: T[], page: T[], cap = 2000): T[] {
  const seen = new Set<number>();
  const out: T[] = [];
  for (const e of [...live].sort((a, b) => b.id - a.id).concat(page)) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    out.push(e);
    if (out.length >= cap) break;
  }
  return out;
}

/** The tone of an event kind. */
export function kindTone(kind: string): string {
  if (/failed|lost|misfired|timeout|killed/.test(kind)) return "bad";
  if (/succeeded/.test(kind)) return "ok";
  if (/retrying|failover|adopted|stopped|paused/.test(kind)) return "warn";
  return "queued";
}
