import { useInfiniteQuery } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { api, data, type Schemas } from "../api/client";
import { EVENT_KINDS, filtersOf, kindTone, mergeNewest, type EventFilters } from "../lib/events";
import { OlderPager } from "../components/OlderPager";
import { time } from "../lib/format";
import { useEventStream, type LiveEvent } from "../lib/live";

type Event = Schemas["Event"];

/** `/events?kind=&project=&workflow=&instance=`: the event log, newest first, a page at a
 * time, and live from the stream with the same filters. */
export default function EventsPage() {
  const [params, setParams] = useSearchParams();
  const filters = useMemo(() => filtersOf(params), [params]);
  const key = JSON.stringify(filters);
  const pages = useInfiniteQuery({
    queryKey: ["events", filters],
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) => data(await api.GET("/api/v1/events", { params: { query: { ...filters, cursor: pageParam, limit: 100 } } })),
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    staleTime: Infinity,
  });
  const loaded = useMemo(() => pages.data?.pages.flatMap((p) => p.events) ?? [], [pages.data]);
  // Live: after the newest event of the first page (or 0 when it is empty).
  const [live, setLive] = useState<Event[]>([]);
  useEffect(() => setLive([]), [key]);
  const head = pages.data ? (pages.data.pages[0]?.events[0]?.id ?? 0) : undefined;
  const onEvent = useCallback((e: LiveEvent) => setLive((l) => [e as unknown as Event, ...l].slice(0, 2000)), []);
  const status = useEventStream(filters as Record<string, string | number>, head, onEvent);
  const events = useMemo(() => mergeNewest(live, loaded), [live, loaded]);

  const [draft, setDraft] = useState<EventFilters>(filters);
  useEffect(() => setDraft(filters), [key]);
  const apply = (f: EventFilters) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(f)) if (v !== undefined && v !== "") q.set(k, String(v));
    setParams(q);
  };
  return (
    <section className="page">
      <div className="titlebar">
        <h2>Events</h2>
        <span className={`stream ${status}`} data-testid="stream-status">
          {status === "live" ? "● live" : status === "reconnecting" ? "reconnecting…" : "connecting…"}
        </span>
      </div>
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          apply(draft);
        }}
      >
        <label className="inline">
          Kind
          <select value={draft.kind ?? ""} onChange={(e) => apply({ ...draft, kind: (e.target.value || undefined) as EventFilters["kind"] })} data-testid="kind-filter">
            <option value="">any</option>
            {EVENT_KINDS.map((k) => (
              <option key={k}>{k}</option>
            ))}
          </select>
        </label>
        <label className="inline">
          Project
          <input value={draft.project ?? ""} onChange={(e) => setDraft({ ...draft, project: e.target.value || undefined })} size={10} />
        </label>
        <label className="inline">
          Workflow
          <input value={draft.workflow ?? ""} onChange={(e) => setDraft({ ...draft, workflow: e.target.value || undefined })} size={12} data-testid="workflow-filter" />
        </label>
        <label className="inline">
          Instance
          <input
            value={draft.instance ?? ""}
            inputMode="numeric"
            onChange={(e) => setDraft({ ...draft, instance: Number(e.target.value) || undefined })}
            size={6}
            data-testid="instance-filter"
          />
        </label>
        <button type="submit">Filter</button>
        {Object.keys(filters).length > 0 && (
          <button type="button" className="ghost" onClick={() => apply({})}>
            clear
          </button>
        )}
      </form>
      {pages.error && <p className="error">{pages.error.message}</p>}
      <div className="scroll-x">
        <table className="grid" data-testid="events">
          <thead>
            <tr>
              <th className="num">Id</th>
              <th>At</th>
              <th>Kind</th>
              <th>Workflow</th>
              <th>Instance</th>
              <th>Task</th>
              <th>Message</th>
            </tr>
          </thead>
          <tbody>
            {events.map((e) => (
              <tr key={e.id} data-kind={e.kind}>
                <td className="num">{e.id}</td>
                <td>{time(e.at)}</td>
                <td>
                  <button className={`badge tone-${kindTone(e.kind)} linkish-badge`} onClick={() => apply({ ...filters, kind: e.kind })} title="Only this kind">
                    {e.kind}
                  </button>
                </td>
                <td>
                  {e.workflow ? (
                    <button className="linkish" onClick={() => apply({ ...filters, project: e.project ?? undefined, workflow: e.workflow ?? undefined })}>
                      {e.project}/{e.workflow}
                    </button>
                  ) : (
                    "—"
                  )}
                </td>
                <td>{e.workflow_instance_id ? <Link to={`/instances/${e.workflow_instance_id}`}>#{e.workflow_instance_id}</Link> : "—"}</td>
                <td>
                  {e.task_name ?? "—"}
                  {e.attempt ? <span className="muted"> #{e.attempt}</span> : null}
                </td>
                <td className="message">{e.message}</td>
              </tr>
            ))}
            {pages.data && events.length === 0 && (
              <tr>
                <td colSpan={7} className="muted">
                  No event.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <OlderPager pages={pages} />
    </section>
  );
}
