import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { Link, useParams, useSearchParams } from "react-router";
import { useVirtualizer } from "@tanstack/react-virtual";
import { api, data, type Schemas } from "../api/client";
import { StateBadge } from "../components/State";
import { ansiConverter, lineHtml, lineStarts, searchLines } from "../lib/log";
import { LogReader, nextStep, type Chunk, type Intent, type Jump, type Moved } from "../lib/logReader";
import { bytesText } from "../lib/logWindow";
import { useProjectNav } from "../lib/nav";

/** How long to wait before asking again while the attempt runs and nothing new came. */
const TAIL_EVERY_MS = 1000;
/** The height of one line (the `.log` font's line height), for keeping the view still. */
const ROW_PX = 18;

/** Keys that scroll the log up, and down. */
const KEYS_UP = new Set(["ArrowUp", "PageUp", "Home"]);
const KEYS_DOWN = new Set(["ArrowDown", "PageDown", "End"]);

/**
 * `/task-instances/:id/log?attempt=N&q=`: an attempt's log, opened at its end and read by
 * byte ranges as the view moves (at most `MAX_WINDOW_BYTES` held, so a 64 MiB log is never
 * loaded whole), tailed while the attempt runs, ANSI colours, search within what is held,
 * jumps to the start, the end or any byte, and a download of the whole file from the API.
 */
export default function LogRoute() {
  const { id } = useParams();
  return <LogPage key={id} id={Number(id)} />;
}

/** Reads the task and its instance (for the title, the attempts and the project nav). */
function useTask(id: number) {
  const task = useQuery({
    queryKey: ["task", id],
    queryFn: async () => data(await api.GET("/api/v1/task-instances/{id}", { params: { path: { id } } })),
  });
  const instance = useQuery({
    queryKey: ["instance-of-task", task.data?.task.workflow_instance_id],
    enabled: !!task.data,
    queryFn: async () =>
      data(await api.GET("/api/v1/instances/{id}", { params: { path: { id: task.data!.task.workflow_instance_id } } })).instance,
    staleTime: Infinity,
  });
  useProjectNav(instance.data?.project);
  return task;
}

/** A reader of one attempt's log through the API's log route. */
function readerOf(id: number, attempt: number): LogReader {
  return new LogReader(async (offset, limit) => {
    const answer = await api.GET("/api/v1/task-instances/{id}/log", {
      params: { path: { id }, query: { attempt, offset, limit } },
    });
    if (!answer.response.ok || !answer.data) throw new Error(`cannot read the log (HTTP ${answer.response.status})`);
    return answer.data as Schemas["LogChunk"] as Chunk;
  });
}

function LogPage({ id }: { id: number }) {
  const [params, setParams] = useSearchParams();
  const attemptParam = params.get("attempt");
  const query = params.get("q") ?? "";
  const task = useTask(id);
  const attempt = attemptParam ? Number(attemptParam) : task.data?.task.attempt;
  const [wrap, setWrap] = useState(false);
  const view = useLogView(id, attempt);
  const { reader, lines, rows, follow, setFollow } = view;

  const { hits, hitList, jumpHit } = useSearch(lines, query, (i) => {
    setFollow(false);
    rows.scrollToIndex(i, { align: "center" });
  });

  const whole = reader !== null && reader.start === 0 && reader.atEnd;
  return (
    <section className="page wide">
      <div className="titlebar">
        <Title task={task.data} attempt={attempt} state={reader?.state} onAttempt={(a) => setParams({ attempt: String(a) })} />
        <span className="spacer" />
        <input
          className="search"
          placeholder="Search"
          title="Searches the part of the log held in the page"
          value={query}
          onChange={(e) => {
            const p = new URLSearchParams(params);
            if (e.target.value) p.set("q", e.target.value);
            else p.delete("q");
            setParams(p, { replace: true });
          }}
          onKeyDown={(e) => e.key === "Enter" && jumpHit(e.shiftKey ? -1 : 1)}
        />
        {query && (
          <span className="muted" data-testid="hits">
            {hitList.length} lines{whole ? "" : " in the part held"}
          </span>
        )}
        <button onClick={() => jumpHit(1)} disabled={!hitList.length}>
          Next
        </button>
        <label className="inline">
          <input type="checkbox" checked={wrap} onChange={(e) => setWrap(e.target.checked)} /> wrap
        </label>
        <button onClick={() => view.jump({ to: "start" })} data-testid="jump-start">
          ⤒ Start
        </button>
        <button onClick={() => view.jump({ to: "end" })} data-testid="jump-end">
          ⤓ End
        </button>
        {attempt !== undefined && (
          <a className="button" href={`/api/v1/task-instances/${id}/log/file?attempt=${attempt}`} download>
            Download
          </a>
        )}
      </div>
      {view.error && <p className="error">{view.error}</p>}
      {reader && !whole && <Position reader={reader} onJump={(at) => view.jump({ to: "byte", at })} />}
      <Lines view={view} wrap={wrap} hits={hits} />
      <Status reader={reader} lines={lines.length} whole={whole} follow={follow} />
    </section>
  );
}

/** The lines on screen of those held (virtualized), with their numbers when known. */
function Lines({ view, wrap, hits }: { view: ReturnType<typeof useLogView>; wrap: boolean; hits: Set<number> }) {
  const { reader, lines, rows, box, moved, scrolled } = view;
  // Each line's HTML, made when the line is first shown, with the colours and styles the
  // lines above it (of those held) left set, as a terminal carries them.
  const { html, startOf } = useMemo(() => ({ html: new Map<number, string>(), startOf: lineStarts(lines) }), [lines]);
  const htmlAt = (i: number) => {
    let h = html.get(i);
    if (h === undefined) html.set(i, (h = lineHtml(ansiConverter(), lines[i] ?? "", startOf(i))));
    return h;
  };
  return (
    <div
      className={`log${wrap ? " wrap" : ""}`}
      ref={box}
      data-testid="log"
      data-complete={reader?.complete ?? false}
      data-fetched={reader?.fetched ?? 0}
      data-size={reader?.size ?? 0}
      data-start={reader?.start ?? 0}
      onWheel={(e) => e.deltaY && moved(e.deltaY < 0 ? "up" : "down")}
      onKeyDown={(e) => KEYS_UP.has(e.key) ? moved("up") : KEYS_DOWN.has(e.key) && moved("down")}
      onScroll={scrolled}
      tabIndex={0}
    >
      <div style={{ height: rows.getTotalSize(), position: "relative" }}>
        {rows.getVirtualItems().map((v) => (
          <div
            key={v.key}
            data-index={v.index}
            ref={rows.measureElement}
            className={`log-line${hits.has(v.index) ? " hit" : ""}`}
            style={{ transform: `translateY(${v.start}px)` }}
          >
            <span className="ln">{reader?.firstLine != null ? reader.firstLine + v.index + 1 : ""}</span>
            {/* ansi_up's output: the line's text HTML-escaped, colours and styles as classes. */}
            <span className="lt" dangerouslySetInnerHTML={{ __html: htmlAt(v.index) }} />
          </div>
        ))}
      </div>
      {lines.length === 0 && <p className="muted pad">{reader?.complete ? "(empty log)" : "waiting for output…"}</p>}
    </div>
  );
}

/** The task's name (a link to its instance), its state, and a choice of its attempts. */
function Title({
  task,
  attempt,
  state,
  onAttempt,
}: {
  task: Schemas["TaskDetail"] | undefined;
  attempt: number | undefined;
  state: string | undefined;
  onAttempt: (a: number) => void;
}) {
  const t = task?.task;
  const attempts = task ? [...new Set([...task.attempts.map((a) => a.attempt), task.task.attempt])].sort((a, b) => a - b) : [];
  return (
    <>
      <h2>
        {t ? (
          <>
            <Link to={`/instances/${t.workflow_instance_id}?task=${encodeURIComponent(t.task_name)}`}>#{t.workflow_instance_id}</Link> /{" "}
            <span className="mono">{t.task_name}</span> log
          </>
        ) : (
          "Log"
        )}
      </h2>
      <StateBadge state={state ?? t?.state} />
      <label className="inline">
        Attempt
        <select value={attempt ?? ""} onChange={(e) => onAttempt(Number(e.target.value))}>
          {attempts.map((a) => (
            <option key={a} value={a}>
              {a}
            </option>
          ))}
        </select>
      </label>
    </>
  );
}

/** How much of the log is held, read, and whether it is complete or followed. */
function Status({ reader, lines, whole, follow }: { reader: LogReader | null; lines: number; whole: boolean; follow: boolean }) {
  return (
    <p className="muted small" data-testid="log-status">
      {lines} lines{whole ? "" : " held"}
      {reader && (
        <>
          {" "}
          · {whole ? bytesText(reader.size) : `${bytesText(reader.window.bytes)} of ${bytesText(reader.size)} · ${bytesText(reader.fetched)} read`}
          {reader.complete ? " · complete" : follow ? " · following" : ""}
        </>
      )}
    </p>
  );
}

/** The lines held that contain `query`, and a step from one to the next (`show` scrolls there). */
function useSearch(lines: string[], query: string, show: (line: number) => void) {
  const hits = useMemo(() => new Set(query ? searchLines(lines, query) : []), [lines, query]);
  const hitList = useMemo(() => [...hits], [hits]);
  const [hitAt, setHitAt] = useState(0);
  const jumpHit = (step: number) => {
    if (!hitList.length) return;
    const next = (hitAt + step + hitList.length) % hitList.length;
    setHitAt(next);
    show(hitList[next]!);
  };
  return { hits, hitList, jumpHit };
}

/** Where the held part lies in the whole log; moving it jumps there (while it is dragged,
 * each read goes to where it is then: one read at a time, the latest place wins). */
function Position({ reader, onJump }: { reader: LogReader; onJump: (at: number) => void }) {
  const [dragging, setDragging] = useState<number | null>(null);
  const at = dragging ?? reader.start;
  return (
    <label className="inline small log-position">
      Position
      <input
        type="range"
        min={0}
        max={reader.size}
        step={1}
        value={at}
        onChange={(e) => {
          setDragging(Number(e.target.value));
          onJump(Number(e.target.value));
        }}
        onPointerUp={() => setDragging(null)}
        onBlur={() => setDragging(null)}
        aria-label="Position in the log"
      />
      <span className="muted">{reader.size ? `${Math.round((at / reader.size) * 100)}%` : ""}</span>
    </label>
  );
}

/**
 * Which way the user moved the view last (a wheel, a key, a scroll bar dragged), told apart
 * from the scrolls the page makes itself (`ours`: the position it set last).
 */
function useIntent(box: React.RefObject<HTMLDivElement | null>, setFollow: (f: boolean) => void) {
  const intent = useRef<Intent>(null);
  const ours = useRef<number | null>(null);
  const lastTop = useRef(0);
  /** The user moved the view: it stops following (up), and reads that way. */
  const moved = (way: "up" | "down") => {
    intent.current = way;
    if (way === "up") setFollow(false);
  };
  /** A scroll: the user's tells which way they move. */
  const scrolled = () => {
    const top = box.current?.scrollTop ?? 0;
    if (ours.current !== null && Math.abs(top - ours.current) < 1) ours.current = null;
    else if (top !== lastTop.current) intent.current = top < lastTop.current ? "up" : "down";
    lastTop.current = top;
  };
  return { intent, ours, moved, scrolled };
}

/**
 * The reading of one attempt's log as the view moves: one read at a time, each followed by a
 * render that decides the next (`nextStep`), the view kept still when lines are added above
 * it or dropped from above it.
 */
function useLogView(id: number, attempt: number | undefined) {
  const reader = useMemo(() => (attempt === undefined ? null : readerOf(id, attempt)), [id, attempt]);
  const [version, setVersion] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [follow, setFollow] = useState(true);
  const [tick, setTick] = useState(0);
  const jumpTo = useRef<Jump | null>({ to: "end" });
  const shift = useRef<{ moved: Moved; jump: Jump | null } | null>(null);
  const box = useRef<HTMLDivElement>(null);
  const { intent, ours, moved, scrolled } = useIntent(box, setFollow);
  useEffect(() => {
    jumpTo.current = { to: "end" };
    intent.current = null;
    setFollow(true);
  }, [reader, intent]);
  const lines = useMemo(() => reader?.window.lines() ?? [], [reader, version]);
  const rows = useVirtualizer({ count: lines.length, getScrollElement: () => box.current, estimateSize: () => ROW_PX, overscan: 20 });
  const items = rows.getVirtualItems();
  const first = items[0]?.index ?? 0;
  const last = items[items.length - 1]?.index ?? 0;

  const pump = useCallback(async () => {
    const jump = jumpTo.current;
    const step = reader && nextStep(reader, jump, follow, { first, last, count: lines.length, intent: intent.current });
    if (!reader || !step) return;
    const end = reader.end;
    try {
      const moved = await reader.take(step);
      if (!moved) return;
      if (jump === jumpTo.current) jumpTo.current = null;
      setError(null);
      shift.current = { moved, jump };
      // Nothing new at the end of a running attempt: ask again in a while.
      if (reader.end === end && !moved.jumped && !moved.added && !reader.complete) setTimeout(() => setTick((n) => n + 1), TAIL_EVERY_MS);
      else setVersion((v) => v + 1);
    } catch (e) {
      setError((e as Error).message);
      setTimeout(() => setTick((n) => n + 1), TAIL_EVERY_MS * 3);
    }
  }, [reader, follow, first, last, lines.length, intent]);
  useEffect(() => {
    void pump();
  }, [pump, version, tick]);

  // Keep the view still when lines come above it, or go from above it; put it where a jump went.
  useLayoutEffect(() => {
    const s = shift.current;
    const el = box.current;
    if (!s || !el) return;
    shift.current = null;
    if (!s.moved.jumped) el.scrollTop += (s.moved.added - s.moved.dropped) * ROW_PX;
    else if (s.jump?.to !== "end" && !follow) el.scrollTop = 0;
    ours.current = el.scrollTop;
  }, [version, follow, ours]);
  useEffect(() => {
    if (follow && lines.length) rows.scrollToIndex(lines.length - 1, { align: "end" });
  }, [follow, lines, rows]);

  const jump = (j: Jump) => {
    jumpTo.current = j;
    intent.current = null;
    setFollow(j.to === "end");
    setTick((n) => n + 1);
  };
  return { reader, lines, rows, follow, setFollow, box, error, jump, moved, scrolled };
}
