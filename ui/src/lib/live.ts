// Live state from the event stream (`GET /api/v1/events/stream`, Server-Sent Events): the
// browser's EventSource sends the session cookie and, when it reconnects by itself, the
// `Last-Event-ID`; when the server closes the stream for good (a restart, an error answer),
// a new one is opened after the last event seen (`?after=`), so nothing is missed.
import { useEffect, useRef, useState } from "react";

/** An event as the stream sends it (the API's `Event`). */
export interface LiveEvent {
  id: number;
  kind: string;
  workflow_instance_id?: number | null;
  task_instance_id?: number | null;
  task_name?: string | null;
  attempt?: number | null;
  worker?: string | null;
  message: string;
  at: string;
}

/** The task state an event puts its task in, if it is a task event that says. */
export function taskStateOf(kind: string): string | undefined {
  return {
    task_dispatched: "dispatched",
    task_started: "running",
    task_succeeded: "succeeded",
    task_failed: "failed",
    task_retrying: "retry_wait",
    task_killed: "killed",
    task_need_failover: "need_failover",
  }[kind];
}

/** The workflow state an event puts its instance in, if it says. */
export function instanceStateOf(kind: string): string | undefined {
  return {
    instance_started: "running",
    instance_succeeded: "succeeded",
    instance_failed: "failed",
    instance_stopped: "stopped",
    instance_paused: "paused",
    instance_resumed: "running",
    instance_recovered: "running",
  }[kind];
}

/** Task states by task name after `events` (in id order), starting from `states`. */
export function applyEvents(states: Record<string, string>, events: LiveEvent[]): Record<string, string> {
  let out = states;
  for (const e of events) {
    const s = taskStateOf(e.kind);
    if (s && e.task_name && out[e.task_name] !== s) {
      out = out === states ? { ...states } : out;
      out[e.task_name] = s;
    }
  }
  return out;
}

/** The URL of a stream of `filters`, resuming after event `after` (if any). */
export function streamUrl(filters: Record<string, string | number>, after?: number): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) q.set(k, String(v));
  if (after !== undefined) q.set("after", String(after));
  return `/api/v1/events/stream?${q}`;
}

/** How the stream stands. */
export type StreamStatus = "connecting" | "live" | "reconnecting";

/**
 * Follows the events of `filters` after event `after` (undefined: not yet, e.g. until the
 * page's first read says where it is), calling `onEvent` for each; the status says whether
 * the page is live or reconnecting.
 */
export function useEventStream(
  filters: Record<string, string | number> | null,
  after: number | undefined,
  onEvent: (e: LiveEvent) => void,
): StreamStatus {
  const [status, setStatus] = useState<StreamStatus>("connecting");
  const handler = useRef(onEvent);
  handler.current = onEvent;
  const key = filters ? JSON.stringify(filters) : null;
  const start = after !== undefined;
  // Where the stream stands: the last event seen, across reconnections.
  const last = useRef<number | undefined>(after);
  useEffect(() => {
    if (!key || !start) return;
    let source: EventSource | null = null;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let delay = 500;
    let closed = false;
    last.current = after;
    const open = () => {
      source = new EventSource(streamUrl(JSON.parse(key), last.current), { withCredentials: true });
      source.onopen = () => {
        delay = 500;
        setStatus("live");
      };
      source.onmessage = (m) => {
        const e = JSON.parse(m.data) as LiveEvent;
        if (last.current !== undefined && e.id <= last.current) return;
        last.current = e.id;
        handler.current(e);
      };
      source.onerror = () => {
        setStatus("reconnecting");
        if (source?.readyState === EventSource.CLOSED && !closed) {
          source.close();
          retry = setTimeout(open, delay);
          delay = Math.min(delay * 2, 10_000);
        }
      };
    };
    open();
    return () => {
      closed = true;
      clearTimeout(retry);
      source?.close();
    };
    // A new `after` alone does not reopen the stream: it is where a new one starts.
  }, [key, start]);
  return status;
}
