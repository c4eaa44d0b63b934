import { useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { Link } from "react-router";
import { api, data } from "../api/client";
import { time } from "../lib/format";
import { age, memory, stale, used } from "../lib/monitor";

/** `/monitor`: the cluster's masters and workers (their heartbeats read again every 5 s,
 * their ages counted each second), who owns which instances, task groups and their slots,
 * and recent failovers. */
export default function MonitorPage() {
  const cluster = useQuery({
    queryKey: ["cluster"],
    refetchInterval: 5_000,
    queryFn: async () => data(await api.GET("/api/v1/cluster")),
  });
  const groups = useQuery({
    queryKey: ["task-groups"],
    refetchInterval: 5_000,
    queryFn: async () => data(await api.GET("/api/v1/task-groups", { params: { query: { limit: 1000 } } })).task_groups,
  });
  const failovers = useQuery({
    queryKey: ["failovers"],
    refetchInterval: 15_000,
    queryFn: async () => {
      const kinds = ["worker_lost", "instance_adopted", "task_need_failover"] as const;
      const lists = await Promise.all(kinds.map(async (kind) => data(await api.GET("/api/v1/events", { params: { query: { kind, limit: 10 } } })).events));
      return lists
        .flat()
        .sort((a, b) => b.id - a.id)
        .slice(0, 10);
    },
  });
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  const members = [...(cluster.data?.members ?? [])].sort((a, b) => a.role.localeCompare(b.role) || a.id.localeCompare(b.id));
  return (
    <section className="page">
      <div className="titlebar">
        <h2>Monitor</h2>
        <span className="muted">{members.length} members</span>
      </div>
      {cluster.error && <p className="error">{cluster.error.message}</p>}
      <div className="scroll-x">
        <table className="grid" data-testid="members">
          <thead>
            <tr>
              <th>Member</th>
              <th>Role</th>
              <th>Group</th>
              <th>Address</th>
              <th>Version</th>
              <th className="num">Heartbeat</th>
              <th className="num">CPU</th>
              <th>Memory</th>
              <th className="num">Load</th>
              <th className="num">Running</th>
              <th className="num">Slots</th>
              <th>Owns</th>
            </tr>
          </thead>
          <tbody>
            {members.map((m) => {
              const owns = cluster.data?.owners[m.id] ?? [];
              return (
                <tr key={`${m.role}/${m.id}`} data-testid={`member-${m.role}`}>
                  <td className="mono">{m.id}</td>
                  <td>{m.role}</td>
                  <td>{m.group ?? "—"}</td>
                  <td className="mono">{m.address}</td>
                  <td>{m.version}</td>
                  <td className={`num${stale(m.heartbeat_at, now) ? " error" : ""}`} title={time(m.heartbeat_at)}>
                    {age(m.heartbeat_at, now)} ago
                  </td>
                  <td className="num">{(m.load.cpu * 100).toFixed(0)} %</td>
                  <td>{memory(m.load.memory_used_mb, m.load.memory_total_mb)}</td>
                  <td className="num">{m.load.load1.toFixed(2)}</td>
                  <td className="num">{m.load.running}</td>
                  <td className="num">{m.role === "worker" ? m.load.slots : "—"}</td>
                  <td className="message">
                    {owns.length === 0
                      ? "—"
                      : owns.slice(0, 20).map((i) => (
                          <Link key={i} to={`/instances/${i}`}>
                            #{i}{" "}
                          </Link>
                        ))}
                    {owns.length > 20 && <span className="muted">+{owns.length - 20}</span>}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <h4>Task groups</h4>
      {groups.data?.length === 0 ? (
        <p className="muted">No task group.</p>
      ) : (
        <table className="grid" data-testid="task-groups">
          <thead>
            <tr>
              <th>Group</th>
              <th className="num">Used / total</th>
              <th>Slots</th>
            </tr>
          </thead>
          <tbody>
            {groups.data?.map((g) => (
              <tr key={g.name}>
                <td>{g.name}</td>
                <td className="num">
                  {g.used} / {g.slots}
                </td>
                <td>
                  <div className="meter" role="meter" aria-valuemin={0} aria-valuemax={g.slots} aria-valuenow={g.used}>
                    <span className={used(g.used, g.slots) >= 1 ? "tone-warn" : "tone-active"} style={{ width: `${used(g.used, g.slots) * 100}%` }} />
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h4>Recent failovers</h4>
      {failovers.data?.length === 0 ? (
        <p className="muted">None.</p>
      ) : (
        <table className="grid">
          <tbody>
            {failovers.data?.map((e) => (
              <tr key={e.id}>
                <td>{time(e.at)}</td>
                <td>{e.kind}</td>
                <td>{e.workflow_instance_id ? <Link to={`/instances/${e.workflow_instance_id}`}>#{e.workflow_instance_id}</Link> : "—"}</td>
                <td className="message">{e.message}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
