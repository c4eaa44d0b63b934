import { useEffect, useMemo, useRef, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { Link, useParams, useSearchParams } from "react-router";
import { useVirtualizer } from "@tanstack/react-virtual";
import { api, data, type Schemas } from "../api/client";
import { StateBadge } from "../components/State";
import { LogLines, searchLines } from "../lib/log";
import { useProjectNav } from "../lib/nav";

/** How long to wait before asking again while the attempt runs and nothing new came. */
const TAIL_EVERY_MS = 1000;

/**
 * `/task-instances/:id/log?attempt=N&q=`: an attempt's log, read page by page by byte offset
 * (tailed while the attempt runs), ANSI colours, search, jump to end, download; the lines
 * are virtualized, so only those on screen are in the page.
 */
export default function LogRoute() {
  const { id } = useParams();
  return <LogPage key={id} id={Number(id)} />;
}

function LogPage({ id }: { id: number }) {
  const [params, setParams] = useSearchParams();
  const attemptParam = params.get("attempt");
  const query = params.get("q") ?? "";
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
  const attempt = attemptParam ? Number(attemptParam) : task.data?.task.attempt;
  // The lines read so far (a mutable buffer: each page is converted once); `version`
  // renders the page again when a page arrives.
  const log = useMemo(() => new LogLines(), [attempt]);
  const [, setVersion] = useState(0);
  const [state, setState] = useState<string | undefined>();
  const [error, setError] = useState<string | null>(null);
  const [follow, setFollow] = useState(true);
  const [wrap, setWrap] = useState(false);

  // Reads pages from the offset until the log is complete; waits a little when the
  // attempt is running and has written nothing new.
  useEffect(() => {
    if (attempt === undefined) return;
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = async () => {
      const answer = await api.GET("/api/v1/task-instances/{id}/log", {
        params: { path: { id }, query: { attempt, offset: log.offset } },
      });
      if (stop) return;
      if (!answer.response.ok || !answer.data) {
        setError(`cannot read the log (HTTP ${answer.response.status})`);
        timer = setTimeout(read, TAIL_EVERY_MS * 3);
        return;
      }
      setError(null);
      const page = answer.data as Schemas["LogChunk"];
      log.append(page);
      setVersion((v) => v + 1);
      setState(page.state);
      if (!page.complete) timer = setTimeout(read, page.data.length ? 0 : TAIL_EVERY_MS);
    };
    void read();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [id, attempt, log]);

  const count = log.count;
  const hits = useMemo(() => new Set(query ? searchLines(log.text(), query) : []), [log, count, query]);
  const hitList = useMemo(() => [...hits], [hits]);

  const box = useRef<HTMLDivElement>(null);
  const rows = useVirtualizer({ count, getScrollElement: () => box.current, estimateSize: () => 18, overscan: 20 });
  useEffect(() => {
    if (follow && count) rows.scrollToIndex(count - 1, { align: "end" });
  }, [follow, count, rows]);
  const [hitAt, setHitAt] = useState(0);
  const jumpHit = (step: number) => {
    if (!hitList.length) return;
    const next = (hitAt + step + hitList.length) % hitList.length;
    setHitAt(next);
    setFollow(false);
    rows.scrollToIndex(hitList[next]!, { align: "center" });
  };

  const download = async () => {
    let offset = 0;
    const parts: BlobPart[] = [];
    for (;;) {
      const r = await fetch(`/api/v1/task-instances/${id}/log?attempt=${attempt}&offset=${offset}&limit=1048576`, {
        headers: { accept: "application/octet-stream" },
        credentials: "same-origin",
      });
      if (!r.ok) break;
      parts.push(await r.arrayBuffer());
      offset = Number(r.headers.get("baton-next-offset") ?? offset);
      if (r.headers.get("baton-complete") === "true" || Number(r.headers.get("content-length")) === 0) break;
    }
    const url = URL.createObjectURL(new Blob(parts, { type: "text/plain" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = `task-${id}-attempt-${attempt}.log`;
    a.click();
    URL.revokeObjectURL(url);
  };

  const t = task.data?.task;
  const attempts = task.data ? [...new Set([...task.data.attempts.map((a) => a.attempt), task.data.task.attempt])].sort((a, b) => a - b) : [];
  return (
    <section className="page wide">
      <div className="titlebar">
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
          <select value={attempt ?? ""} onChange={(e) => setParams({ attempt: e.target.value })}>
            {attempts.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </label>
        <span className="spacer" />
        <input
          className="search"
          placeholder="Search"
          value={query}
          onChange={(e) => {
            const p = new URLSearchParams(params);
            if (e.target.value) p.set("q", e.target.value);
            else p.delete("q");
            setParams(p, { replace: true });
          }}
          onKeyDown={(e) => e.key === "Enter" && jumpHit(e.shiftKey ? -1 : 1)}
        />
        {query && <span className="muted">{hitList.length} lines</span>}
        <button onClick={() => jumpHit(1)} disabled={!hitList.length}>
          Next
        </button>
        <label className="inline">
          <input type="checkbox" checked={wrap} onChange={(e) => setWrap(e.target.checked)} /> wrap
        </label>
        <button onClick={() => setFollow(true)} data-testid="jump-end">
          ⤓ End
        </button>
        <button onClick={download}>Download</button>
      </div>
      {error && <p className="error">{error}</p>}
      <div
        className={`log${wrap ? " wrap" : ""}`}
        ref={box}
        data-testid="log"
        data-complete={log.complete}
        onWheel={() => setFollow(false)}
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
              <span className="ln">{v.index + 1}</span>
              {/* ansi_up's output: the line's text HTML-escaped, colours as classes. */}
              <span className="lt" dangerouslySetInnerHTML={{ __html: log.htmlAt(v.index) }} />
            </div>
          ))}
        </div>
        {count === 0 && <p className="muted pad">{log.complete ? "(empty log)" : "waiting for output…"}</p>}
      </div>
      <p className="muted small">
        {count} lines · {log.offset} bytes read{log.complete ? " · complete" : " · following"}
      </p>
    </section>
  );
}
