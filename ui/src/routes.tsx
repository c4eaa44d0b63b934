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

const later = (page: ReactNode) => <Suspense fallback={<p className="muted pad">Loading…</p>}>{page}</Suspense>;

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
      { path: "/projects/:project/schedules", element: later(<SchedulesPage />) },
      { path: "/projects/:project/datasources", element: later(<DataSourcesPage />) },
      { path: "/projects/:project/secrets", element: later(<SecretsPage />) },
      { path: "/projects/:project/alerts", element: later(<AlertsPage />) },
      { path: "/projects/:project/workflows/new", element: later(<EditorPage />) },
      { path: "/projects/:project/workflows/:name", element: later(<WorkflowPage />) },
      { path: "/projects/:project/workflows/:name/edit", element: later(<EditorPage />) },
      { path: "/instances/:id", element: later(<InstancePage />) },
      { path: "/task-instances/:id/log", element: later(<LogPage />) },
      { path: "/backfills/:id", element: later(<BackfillPage />) },
      { path: "/monitor", element: later(<MonitorPage />) },
      { path: "/events", element: later(<EventsPage />) },
      { path: "/audit", element: later(<AuditPage />) },
      { path: "*", element: <p className="pad">No such page.</p> },
    ],
  },
]);
