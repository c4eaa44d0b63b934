import { useInfiniteQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useSearchParams } from "react-router";
import { api, data } from "../api/client";
import { useMe } from "../lib/auth";
import { OlderPager } from "../components/OlderPager";
import { time } from "../lib/format";

/** `/audit?user=&since=`: who did what, newest first (admins; the API refuses others). */
export default function AuditPage() {
  const me = useMe();
  const [params, setParams] = useSearchParams();
  const user = params.get("user") ?? "";
  const since = params.get("since") ?? "";
  const [draft, setDraft] = useState({ user, since });
  const pages = useInfiniteQuery({
    queryKey: ["audit", user, since],
    enabled: !!me.data?.global_admin,
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) =>
      data(
        await api.GET("/api/v1/audit", {
          params: {
            query: { user: user || undefined, since: since ? new Date(since).toISOString() : undefined, cursor: pageParam, limit: 100 },
          },
        }),
      ),
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  if (me.data && !me.data.global_admin) return <p className="pad muted">The audit log is for admins.</p>;
  const entries = pages.data?.pages.flatMap((p) => p.entries) ?? [];
  return (
    <section className="page">
      <div className="titlebar">
        <h2>Audit</h2>
      </div>
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          const q = new URLSearchParams();
          if (draft.user) q.set("user", draft.user);
          if (draft.since) q.set("since", draft.since);
          setParams(q);
        }}
      >
        <label className="inline">
          User
          <input value={draft.user} onChange={(e) => setDraft({ ...draft, user: e.target.value })} size={12} />
        </label>
        <label className="inline">
          Since
          <input type="datetime-local" value={draft.since} onChange={(e) => setDraft({ ...draft, since: e.target.value })} />
        </label>
        <button type="submit">Filter</button>
      </form>
      {pages.error && <p className="error">{pages.error.message}</p>}
      <div className="scroll-x">
        <table className="grid" data-testid="audit">
          <thead>
            <tr>
              <th>At</th>
              <th>User</th>
              <th>Action</th>
              <th>Target</th>
              <th>Outcome</th>
              <th className="num">Status</th>
              <th>Address</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.id}>
                <td>{time(e.at)}</td>
                <td>{e.user ?? "—"}</td>
                <td className="mono">{e.action}</td>
                <td className="message mono">{e.target}</td>
                <td>
                  <span className={`badge tone-${e.outcome === "allowed" ? "ok" : e.outcome === "denied" ? "warn" : "bad"}`}>
                    {e.outcome}
                  </span>
                </td>
                <td className="num">{e.status}</td>
                <td className="mono">{e.address ?? "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <OlderPager pages={pages} />
    </section>
  );
}
