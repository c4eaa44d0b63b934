import { useQuery } from "@tanstack/react-query";
import { useMemo } from "react";
import { api, data } from "../api/client";
import { time } from "../lib/format";
import { diffStat, lineDiff } from "../lib/textdiff";

/** The source of one version of a workflow. */
function useSource(project: string, name: string, version: number | null) {
  return useQuery({
    queryKey: ["workflow", project, name, version === null ? null : String(version)],
    enabled: version !== null,
    staleTime: Infinity,
    queryFn: async () =>
      data(await api.GET("/api/v1/workflows/{name}", { params: { path: { name }, query: { project, version: version ?? undefined } } })),
  });
}

/** The versions tab: the list (newest first), one version's YAML (`view`), or the diff of
 * two (`a` → `b`); each is in the URL (`?tab=versions&view=3`, `&a=2&b=3`). */
export function Versions({
  project,
  name,
  view,
  a,
  b,
  onChange,
}: {
  project: string;
  name: string;
  view: number | null;
  a: number | null;
  b: number | null;
  onChange: (p: { view?: number | null; a?: number | null; b?: number | null; version?: number | null }) => void;
}) {
  const versions = useQuery({
    queryKey: ["versions", project, name],
    queryFn: async () =>
      data(await api.GET("/api/v1/workflows/{name}/versions", { params: { path: { name }, query: { project, limit: 1000 } } })).versions,
  });
  const list = versions.data ?? [];
  const latest = list[0]?.version ?? null;
  const comparing = a !== null && b !== null;
  const shown = comparing ? null : (view ?? latest);
  const one = useSource(project, name, shown);
  const left = useSource(project, name, comparing ? a : null);
  const right = useSource(project, name, comparing ? b : null);
  const lines = useMemo(
    () => (left.data && right.data ? lineDiff(left.data.source, right.data.source) : null),
    [left.data, right.data],
  );
  if (versions.error) return <p className="error">{versions.error.message}</p>;
  return (
    <div className="versions">
      <table className="grid narrow" data-testid="versions">
        <thead>
          <tr>
            <th className="num">Version</th>
            <th>Made</th>
            <th title="Compare from">A</th>
            <th title="Compare to">B</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {list.map((v) => (
            <tr key={v.version} className={v.version === shown ? "selected" : undefined}>
              <td className="num">
                <button className="linkish" onClick={() => onChange({ view: v.version, a: null, b: null })} aria-label={`View v${v.version}`}>
                  v{v.version}
                </button>
                {v.version === latest && <span className="muted small"> latest</span>}
              </td>
              <td>{time(v.created_at)}</td>
              <td>
                <input type="radio" name="a" checked={a === v.version} onChange={() => onChange({ a: v.version, b: b ?? latest })} aria-label={`Compare from v${v.version}`} />
              </td>
              <td>
                <input type="radio" name="b" checked={b === v.version} onChange={() => onChange({ b: v.version, a: a ?? v.version - 1 })} aria-label={`Compare to v${v.version}`} />
              </td>
              <td>
                <button className="ghost small" onClick={() => onChange({ version: v.version })}>
                  DAG
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="version-body">
        {comparing ? (
          lines ? (
            <>
              <p className="muted" data-testid="diff-stat">
                v{a} → v{b}: +{diffStat(lines).added} −{diffStat(lines).removed}
                <button className="ghost small" onClick={() => onChange({ a: null, b: null })}>
                  close
                </button>
              </p>
              <pre className="code source diff" data-testid="diff">
                {lines.map((l, i) => (
                  <div key={i} className={`dl ${l.kind}`}>
                    <span className="ln">{l.old ?? ""}</span>
                    <span className="ln">{l.new ?? ""}</span>
                    <span className="sign">{l.kind === "add" ? "+" : l.kind === "del" ? "−" : " "}</span>
                    {l.text}
                  </div>
                ))}
              </pre>
            </>
          ) : (
            <p className="muted">{left.error?.message ?? right.error?.message ?? "Loading…"}</p>
          )
        ) : one.data ? (
          <>
            <p className="muted">v{one.data.version}, made {time(one.data.created_at)}</p>
            <pre className="code source" data-testid="version-yaml">
              {one.data.source}
            </pre>
          </>
        ) : (
          <p className="muted">{one.error?.message ?? "Loading…"}</p>
        )}
      </div>
    </div>
  );
}
