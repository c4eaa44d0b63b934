// Every page and selection has a URL; the heavy pages (the DAG, the live instance, the log
// viewer, the workflow editor) are loaded on first use, so the first page load stays small.
import { lazy, Suspense, type ReactNode } from "react";
import { createBrowserRouter, Navigate } from "react-router";
import { Layout } from "./components/Layout";
import { LoginPage } from "./pages/Login";
import { ProjectsPage } from "./pages/Projects";
import { WorkflowsPage } from "./pages/Workflows";
import { InstancesPage } from "./pages/Instances";

const WorkflowPage = lazy(() => import("./pages/Workflow"));
const InstancePage = lazy(() => import("./pages/Instance"));
const LogPage = lazy(() => import("./pages/Log"));
const BackfillPage = lazy(() => import("./pages/Backfill"));
const SchedulesPage = lazy(() => import("./pages/Schedules"));
const MonitorPage = lazy(() => import("./pages/Monitor"));
const EventsPage = lazy(() => import("./pages/Events"));
const AuditPage = lazy(() => import("./pages/Audit"));
const EditorPage = lazy(() => import("./pages/Editor"));
const DataSourcesPage = lazy(() => import("./pages/DataSources"));
const SecretsPage = lazy(() => import("./pages/Secrets"));
const AlertsPage = lazy(() => import("./pages/Alerts"));

/**
 * The route of a page loaded on first use, under a Suspense boundary of its own. One
 * boundary shared by every route would be the same boundary to React from one page to the
 * next, and a navigation (a transition) keeps an already shown boundary's content while the
 * next page's code loads: the old page would stay on screen, and take clicks, under the new
 * URL (a click on a workflow page's "YAML" tab after "Edit" undid the navigation to the
 * editor). Its own boundary shows "Loading…" instead.
 */
const lazyRoute = (path: string, page: ReactNode) => ({
  path,
  element: (
    <Suspense key={path} fallback={<p className="muted pad">Loading…</p>}>
      {page}
    </Suspense>
  ),
});

/** The app's routes. */
export const router = createBrowserRouter([
  { path: "/login", element: <LoginPage /> },
  {
    element: <Layout />,
    children: [
      { index: true, element: <Navigate to="/projects" replace /> },
      { path: "/projects", element: <ProjectsPage /> },
      { path: "/projects/:project", element: <WorkflowsPage /> },
      { path: "/projects/:project/instances", element: <InstancesPage /> },
      lazyRoute("/projects/:project/schedules", <SchedulesPage />),
      lazyRoute("/projects/:project/datasources", <DataSourcesPage />),
      lazyRoute("/projects/:project/secrets", <SecretsPage />),
      lazyRoute("/projects/:project/alerts", <AlertsPage />),
      lazyRoute("/projects/:project/workflows/new", <EditorPage />),
      lazyRoute("/projects/:project/workflows/:name", <WorkflowPage />),
      lazyRoute("/projects/:project/workflows/:name/edit", <EditorPage />),
      lazyRoute("/instances/:id", <InstancePage />),
      lazyRoute("/task-instances/:id/log", <LogPage />),
      lazyRoute("/backfills/:id", <BackfillPage />),
      lazyRoute("/monitor", <MonitorPage />),
      lazyRoute("/events", <EventsPage />),
      lazyRoute("/audit", <AuditPage />),
      { path: "*", element: <p className="pad">No such page.</p> },
    ],
  },
]);
