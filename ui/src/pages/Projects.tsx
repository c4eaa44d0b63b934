import { useState, type FormEvent } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, data, errorMessage, type Schemas } from "../api/client";
import { ROLES, can, useMe, type Role } from "../lib/auth";
import { time } from "../lib/format";

/** `/projects`: the projects the user sees, each with its counts (workflows, instances not
 * ended, failed in the last 24 h) from the one answer of `GET /projects`; a project admin
 * manages its members. */
export function ProjectsPage() {
  const me = useMe();
  const [open, setOpen] = useState<string | null>(null);
  const projects = useQuery({
    queryKey: ["projects"],
    queryFn: async () => data(await api.GET("/api/v1/projects", { params: { query: { limit: 1000 } } })),
  });
  return (
    <section className="page">
      <h2>Projects</h2>
      {projects.error && <p className="error">{projects.error.message}</p>}
      <table className="grid" data-testid="projects">
        <thead>
          <tr>
            <th>Name</th>
            <th className="num">Workflows</th>
            <th className="num">Running</th>
            <th className="num">Failed (24 h)</th>
            <th>Created</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {projects.data?.projects.map((p) => (
            <ProjectRow key={p.name} p={p} admin={can(me.data, p.name, "admin")} open={open === p.name} onToggle={() => setOpen(open === p.name ? null : p.name)} />
          ))}
        </tbody>
      </table>
      {projects.data?.projects.length === 0 && <p className="muted">No project is visible to you.</p>}
      {open && <Members project={open} />}
    </section>
  );
}

function ProjectRow({ p, admin, open, onToggle }: { p: Schemas["Project"]; admin: boolean; open: boolean; onToggle: () => void }) {
  const c = p.counts;
  const project = encodeURIComponent(p.name);
  return (
    <tr data-project={p.name} className={open ? "selected" : undefined}>
      <td>
        <Link to={`/projects/${project}`}>{p.name}</Link>
      </td>
      <td className="num" data-count="workflows">{c?.workflows ?? 0}</td>
      <td className="num" data-count="running">
        <Link to={`/projects/${project}/instances?state=running`}>{c?.running ?? 0}</Link>
      </td>
      <td className="num" data-count="failed">
        {(c?.failed_24h ?? 0) > 0 ? (
          <Link className="error" to={`/projects/${project}/instances?state=failed`}>
            {c?.failed_24h}
          </Link>
        ) : (
          0
        )}
      </td>
      <td>{time(p.created_at)}</td>
      <td>
        <span className="row-actions">
        <Link to={`/projects/${project}/instances`}>instances</Link>
        <Link to={`/projects/${project}/datasources`}>settings</Link>
        {admin && (
          <button type="button" className="ghost" onClick={onToggle} aria-expanded={open} aria-label={`Members of ${p.name}`}>
            members
          </button>
        )}
        </span>
      </td>
    </tr>
  );
}

/** A project's members for its admins: add one, change a role, remove one. */
function Members({ project }: { project: string }) {
  const queries = useQueryClient();
  const [user, setUser] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const [error, setError] = useState<string | null>(null);
  const members = useQuery({
    queryKey: ["members", project],
    queryFn: async () =>
      data(await api.GET("/api/v1/projects/{project}/members", { params: { path: { project }, query: { limit: 1000 } } })).members,
  });
  const path = (u: string) => ({ params: { path: { project, user: u } } });
  const done = async (answer: { response: Response; error?: unknown }) => {
    setError(answer.response.ok ? null : errorMessage(answer.error, `HTTP ${answer.response.status}`));
    await queries.invalidateQueries({ queryKey: ["members", project] });
    return answer.response.ok;
  };
  const put = async (u: string, r: Role) => done(await api.PUT("/api/v1/projects/{project}/members/{user}", { ...path(u), body: { role: r } }));
  const remove = async (u: string) => done(await api.DELETE("/api/v1/projects/{project}/members/{user}", path(u)));
  const add = async (e: FormEvent) => {
    e.preventDefault();
    if (!user.trim()) return;
    if (await put(user.trim(), role)) setUser("");
  };
  return (
    <div className="card members" data-testid="members">
      <h3>
        Members of <span className="mono">{project}</span>
      </h3>
      {members.error && <p className="error">{members.error.message}</p>}
      <table className="grid">
        <thead>
          <tr>
            <th>User</th>
            <th>Role</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {members.data?.map((m) => (
            <tr key={m.user} data-member={m.user}>
              <td>{m.user}</td>
              <td>
                <select value={m.role} aria-label={`Role of ${m.user}`} onChange={(e) => void put(m.user, e.target.value as Role)}>
                  {ROLES.map((r) => (
                    <option key={r}>{r}</option>
                  ))}
                </select>
              </td>
              <td>
                <button type="button" className="ghost" onClick={() => void remove(m.user)} aria-label={`Remove ${m.user}`}>
                  remove
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form className="row-actions" onSubmit={add}>
        <input placeholder="user name" value={user} onChange={(e) => setUser(e.target.value)} aria-label="new member" />
        <select value={role} onChange={(e) => setRole(e.target.value as Role)} aria-label="new member's role">
          {ROLES.map((r) => (
            <option key={r}>{r}</option>
          ))}
        </select>
        <button type="submit">add</button>
      </form>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
