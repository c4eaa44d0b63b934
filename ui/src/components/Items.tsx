// A mapped task's items (`map:`): its counts by state, coloured, and the table of its items,
// virtualized (TanStack Virtual) and read from `GET /instances/{id}/items` a page at a time
// as the view nears the end of what was read.
import { useEffect, useRef } from "react";
import { useInfiniteQuery } from "@tanstack/react-query";
import { useVirtualizer } from "@tanstack/react-virtual";
import { api, data, type Schemas } from "../api/client";
import { TaskCells, TaskHead } from "./TaskCells";
import { ITEM_FILTERS, countParts, mergePages, type ItemFilter } from "../lib/items";
import { stateColor } from "../lib/states";

/** Items read a request at a time. */
const PAGE = 200;
const ROW = 30;

/** `196 ✓ · 4 ✗ · 0 waiting`, each part in its state's colour. */
export function ItemCounts({ counts, testId }: { counts: Schemas["ItemCounts"]; testId?: string }) {
  const parts = countParts(counts);
  return (
    <span className="item-counts" data-testid={testId} title={`${counts.items} items`}>
      {parts.map((p, i) => (
        <span key={i} style={p.state ? { color: stateColor(p.state) } : undefined}>
          {i > 0 && " · "}
          {p.text}
        </span>
      ))}
    </span>
  );
}

/** The query key of `task`'s items under `filter`. */
const itemsKey = (id: number, task: string, filter: ItemFilter) => ["instance-items", id, task, filter];

/**
 * The items of the mapped task `task` of instance `id`, filtered by state. `version` is
 * when the page last read the instance (on live events, throttled): a new one re-reads the
 * pages shown, once the read under way (if any) is done, never cancelling it, so that many
 * pages re-read in a row are not restarted by every event, and the last version is read.
 */
export function ItemTable({
  id,
  task,
  filter,
  version,
  onFilter,
}: {
  id: number;
  task: string;
  filter: ItemFilter;
  version: number;
  onFilter: (f: ItemFilter) => void;
}) {
  const pages = useInfiniteQuery({
    queryKey: itemsKey(id, task, filter),
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) =>
      data(
        await api.GET("/api/v1/instances/{id}/items", {
          params: { path: { id }, query: { task, limit: PAGE, cursor: pageParam, state: filter === "all" ? undefined : filter } },
        }),
      ),
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const rows = mergePages(pages.data?.pages ?? []);
  const box = useRef<HTMLDivElement>(null);
  const v = useVirtualizer({ count: rows.length, getScrollElement: () => box.current, estimateSize: () => ROW, overscan: 10 });
  const lastShown = v.getVirtualItems().at(-1)?.index ?? 0;
  const { hasNextPage, isFetchingNextPage, fetchNextPage, isFetching, refetch } = pages;
  const read = useRef(version);
  useEffect(() => {
    if (version !== read.current && !isFetching) {
      read.current = version;
      void refetch({ cancelRefetch: false });
    }
  }, [version, isFetching, refetch]);
  useEffect(() => {
    if (hasNextPage && !isFetchingNextPage && lastShown >= rows.length - 20) void fetchNextPage();
  }, [hasNextPage, isFetchingNextPage, fetchNextPage, lastShown, rows.length]);
  return (
    <div className="items" data-testid="items">
      <div className="items-bar">
        <strong>Items of {task}</strong>
        <label>
          state{" "}
          <select value={filter} onChange={(e) => onFilter(e.target.value as ItemFilter)} data-testid="items-filter">
            {ITEM_FILTERS.map((f) => (
              <option key={f} value={f}>
                {f.replace("_", " ")}
              </option>
            ))}
          </select>
        </label>
        <span className="muted small" data-testid="items-shown">
          {pages.isPending ? "loading…" : `${rows.length}${hasNextPage ? "+" : ""} shown`}
        </span>
        {pages.error && <span className="error">{pages.error.message}</span>}
      </div>
      <div className="vtable" role="table">
        <TaskHead first="Item" />
        <div className="vbody" ref={box}>
          <div style={{ height: v.getTotalSize(), position: "relative" }}>
            {v.getVirtualItems().map((at) => (
              <ItemRow key={rows[at.index]!.id} item={rows[at.index]!} top={at.start} />
            ))}
          </div>
        </div>
      </div>
      {!pages.isPending && rows.length === 0 && <p className="muted pad">No item {filter === "all" ? "has started yet" : `is ${filter.replace("_", " ")}`}.</p>}
    </div>
  );
}

/** One item: its state, attempt, worker, times, exit code, message and log link. */
function ItemRow({ item: t, top }: { item: Schemas["TaskInstance"]; top: number }) {
  return (
    <div role="row" className="vrow" style={{ transform: `translateY(${top}px)`, height: ROW }} data-item={t.task_name}>
      <span className="mono">{t.task_name}</span>
      <TaskCells task={t} name={t.task_name} />
    </div>
  );
}
