import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, data } from "../api/client";
import { time } from "../lib/format";

/** `/projects`: the projects the user sees, with their workflow counts. */
export function ProjectsPage() {
  const projects = useQuery({
    queryKey: ["projects"],
    queryFn: async () => data(await api.GET("/api/v1/projects", { params: { query: { limit: 1000 } } })),
  });
  const workflows = useQuery({
    queryKey: ["workflows", "all"],
    queryFn: async () => data(await api.GET("/api/v1/workflows", { params: { query: { limit: 1000 } } })),
  });
  const count = (p: string) => workflows.data?.workflows.filter((w) => w.project === p).length;
  return (
    <section className="page">
      <h2>Projects</h2>
      {projects.error && <p className="error">{projects.error.message}</p>}
      <table className="grid">
        <thead>
          <tr>
            <th>Name</th>
            <th className="num">Workflows</th>
            <th>Created</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {projects.data?.projects.map((p) => (
            <tr key={p.name}>
              <td>
                <Link to={`/projects/${encodeURIComponent(p.name)}`}>{p.name}</Link>
              </td>
              <td className="num">{count(p.name) ?? "…"}</td>
              <td>{time(p.created_at)}</td>
              <td>
                <Link to={`/projects/${encodeURIComponent(p.name)}/instances`}>instances</Link>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {projects.data?.projects.length === 0 && <p className="muted">No project is visible to you.</p>}
    </section>
  );
}
