import { useEffect, useState } from "react";
import { Link, NavLink, Outlet, useLocation, useNavigate, useParams } from "react-router";
import { useQueryClient } from "@tanstack/react-query";
import { api, onUnauthorized, tokens } from "../api/client";
import { askOtherTabs, shareToken } from "../api/session";
import { useMe } from "../lib/auth";
import { ProjectNav } from "../lib/nav";
import { applyTheme, nextTheme, savedTheme, type Theme } from "../lib/theme";

/** The frame of every signed-in page: the header (projects, the user, theme, logout). */
export function Layout() {
  const navigate = useNavigate();
  const location = useLocation();
  const queries = useQueryClient();
  const me = useMe();
  const { project: routeProject } = useParams();
  const [pageProject, setPageProject] = useState<string | null>(null);
  const project = routeProject ?? pageProject ?? undefined;
  const [theme, setTheme] = useState<Theme>(savedTheme());
  // Data sources, secrets and alerts are one header link (their pages have tabs).
  const settingsPage = /^\/projects\/[^/]+\/(datasources|secrets|alerts)$/.test(location.pathname);

  useEffect(() => {
    onUnauthorized(() => {
      queries.clear();
      const next = location.pathname + location.search;
      navigate(`/login?next=${encodeURIComponent(next)}`, { replace: true });
    });
  }, [navigate, location, queries]);

  // This tab's CSRF token: shared with tabs opened later; asked of the open ones when this
  // tab has none (opened by hand); without one, changes would be refused: log in again.
  useEffect(() => shareToken(tokens), []);
  useEffect(() => {
    if (tokens.get()) return;
    let gone = false;
    void askOtherTabs().then((token) => {
      if (gone) return;
      if (token) tokens.set(token);
      else navigate(`/login?next=${encodeURIComponent(location.pathname + location.search)}`, { replace: true });
    });
    return () => {
      gone = true;
    };
    // Once per mount: later navigation does not ask again.
  }, []);

  const logout = async () => {
    await api.POST("/api/v1/auth/logout");
    tokens.set(null);
    queries.clear();
    navigate("/login");
  };

  const toggle = () => {
    const t = nextTheme(theme);
    applyTheme(t);
    setTheme(t);
  };

  return (
    <div className="app">
      <header className="topbar">
        <Link to="/projects" className="brand">
          Baton
        </Link>
        <nav>
          <NavLink to="/projects" end>
            Projects
          </NavLink>
          {project && (
            <>
              <NavLink to={`/projects/${encodeURIComponent(project)}`} end>
                Workflows
              </NavLink>
              <NavLink to={`/projects/${encodeURIComponent(project)}/instances`}>Instances</NavLink>
              <NavLink to={`/projects/${encodeURIComponent(project)}/schedules`}>Schedules</NavLink>
              <NavLink to={`/projects/${encodeURIComponent(project)}/datasources`} className={({ isActive }) => (isActive || settingsPage ? "active" : undefined)}>
                Settings
              </NavLink>
            </>
          )}
          <NavLink to="/monitor">Monitor</NavLink>
          <NavLink to={project ? `/events?project=${encodeURIComponent(project)}` : "/events"}>Events</NavLink>
          {me.data?.global_admin && <NavLink to="/audit">Audit</NavLink>}
        </nav>
        <span className="spacer" />
        <button className="ghost" onClick={toggle} title="Theme: system, dark, light">
          {theme === "system" ? "◐ auto" : theme === "dark" ? "☾ dark" : "☀ light"}
        </button>
        <span className="user" data-testid="current-user">
          {me.data ? `${me.data.name}${me.data.global_admin ? " (admin)" : ""}` : "…"}
        </span>
        <button className="ghost" onClick={logout}>
          Log out
        </button>
      </header>
      <main>
        <ProjectNav.Provider value={setPageProject}>
          <Outlet />
        </ProjectNav.Provider>
      </main>
    </div>
  );
}
