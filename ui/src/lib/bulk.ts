// Bulk stop and rerun of the instances list: which of the selected instances a command
// applies to (the others are skipped, saying why, without a request), then one request per
// instance, a result for each.

import { actionsFor } from "./actions";

/** The commands the list sends in bulk. */
export type BulkAction = "stop" | "rerun";

/** What happened to one instance of a bulk command. */
export type BulkResult =
  | { outcome: "done"; message: string }
  | { outcome: "skipped"; message: string }
  | { outcome: "failed"; message: string };

/** The selected instances `action` applies to, and the skipped ones with why. */
export function bulkPlan(
  instances: { id: number; state: string }[],
  selected: Set<number>,
  action: BulkAction,
): { send: number[]; skipped: Map<number, BulkResult> } {
  const send: number[] = [];
  const skipped = new Map<number, BulkResult>();
  for (const i of instances) {
    if (!selected.has(i.id)) continue;
    if (actionsFor(i.state).includes(action)) send.push(i.id);
    else skipped.set(i.id, { outcome: "skipped", message: `not sent: a ${i.state} instance cannot be ${action === "stop" ? "stopped" : "rerun"}` });
  }
  return { send, skipped };
}

/** Sends `one` for each id, at most `parallel` at a time; every id gets its result, and a
 * throw is a failure of that id only. */
export async function runBulk(
  ids: number[],
  one: (id: number) => Promise<BulkResult>,
  parallel = 4,
): Promise<Map<number, BulkResult>> {
  const results = new Map<number, BulkResult>();
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++]!;
      try {
        results.set(id, await one(id));
      } catch (e) {
        results.set(id, { outcome: "failed", message: e instanceof Error ? e.message : String(e) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, ids.length) }, worker));
  return results;
}

/** The summary line of a bulk command's results. */
export function bulkSummary(results: Map<number, BulkResult>): string {
  const count = (o: BulkResult["outcome"]) => [...results.values()].filter((r) => r.outcome === o).length;
  const [done, skipped, failed] = [count("done"), count("skipped"), count("failed")];
  const parts = [`${done} done`];
  if (failed) parts.push(`${failed} failed`);
  if (skipped) parts.push(`${skipped} skipped`);
  return parts.join(", ");
}
