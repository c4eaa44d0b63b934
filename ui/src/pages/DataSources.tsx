import { useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { useParams } from "react-router";
import { api, data, type Schemas } from "../api/client";
import { Dialog } from "../components/Dialog";
import { OlderPager } from "../components/OlderPager";
import {
  DialogButtons,
  ErrorLine,
  Field,
  GeneralErrors,
  SettingsHead,
  TestDeleteActions,
  usePaged,
  useRemove,
  useTests,
  type TestOutcome,
} from "../components/Settings";
import { can, useMe } from "../lib/auth";
import { DATASOURCE_FIELDS, DATASOURCE_TYPES, dataSourceBody, dataSourceErrors, urlExample, type DataSourceForm } from "../lib/datasources";
import { time } from "../lib/format";
import { useFieldForm } from "../lib/useFieldForm";

/** `/projects/:project/datasources`: the project's data sources (name, type, the URL as the
 * API shows it, without password), by name a page at a time; operators test one (what
 * failed, in the server's words), editors create (the password typed once, sent once) and
 * delete. The API has no update: a data source is changed by deleting and creating it. */
export default function DataSourcesPage() {
  const { project = "" } = useParams();
  const me = useMe();
  const editor = can(me.data, project, "editor");
  const operator = can(me.data, project, "operator");
  const [creating, setCreating] = useState(false);
  const { pages, list } = usePaged(
    ["datasources", project],
    async (cursor) => data(await api.GET("/api/v1/datasources", { params: { query: { project, cursor, limit: 100 } } })),
    (p) => p.datasources,
  );
  const path = (name: string) => ({ params: { path: { name }, query: { project } } });
  const [tests, test] = useTests((name) => api.POST("/api/v1/datasources/{name}/test", path(name)));
  const [error, remove] = useRemove(["datasources", project], (name: string) => api.DELETE("/api/v1/datasources/{name}", path(name)));
  return (
    <section className="page">
      <SettingsHead project={project} title="data sources">
        {editor && (
          <button className="primary" onClick={() => setCreating(true)} data-testid="new-datasource">
            + New data source
          </button>
        )}
      </SettingsHead>
      {pages.error && <p className="error">{pages.error.message}</p>}
      <ErrorLine error={error} />
      <div className="scroll-x">
        <table className="grid" data-testid="datasources">
          <thead>
            <tr>
              <th>Name</th>
              <th>Type</th>
              <th>URL</th>
              <th>Password</th>
              <th>Created</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.map((d) => (
              <DataSourceRow key={d.name} d={d} operator={operator} editor={editor} outcome={tests[d.name]} onTest={() => void test(d.name)} onDelete={() => remove(d.name)} />
            ))}
            {pages.data && list.length === 0 && (
              <tr>
                <td colSpan={6} className="muted">
                  This project has no data source.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <OlderPager pages={pages} label="More →" />
      {creating && <DataSourceDialog project={project} onClose={() => setCreating(false)} />}
    </section>
  );
}

function DataSourceRow({
  d,
  operator,
  editor,
  outcome,
  onTest,
  onDelete,
}: {
  d: Schemas["DataSource"];
  operator: boolean;
  editor: boolean;
  outcome: TestOutcome | "testing" | undefined;
  onTest: () => void;
  onDelete: () => Promise<void>;
}) {
  return (
    <tr data-datasource={d.name}>
      <td className="mono">{d.name}</td>
      <td>{d.type}</td>
      <td className="mono wrap">{d.url}</td>
      <td>{d.has_password ? "kept (sealed)" : <span className="muted">none</span>}</td>
      <td>{time(d.created_at)}</td>
      <td>
        <TestDeleteActions name={d.name} operator={operator} editor={editor} outcome={outcome} onTest={onTest} onDelete={onDelete} />
      </td>
    </tr>
  );
}

/** The create form: name, type, URL (its example for the type) and the password, which is
 * sent once in the body and forgotten with the form. */
function DataSourceDialog({ project, onClose }: { project: string; onClose: () => void }) {
  const queries = useQueryClient();
  const { form, server, busy, errorOf, edit, submit } = useFieldForm<DataSourceForm>({ name: "", type: "postgresql", url: "", password: "" }, dataSourceErrors);
  const create = submit(
    (f) => api.POST("/api/v1/datasources", { params: { query: { project } }, body: dataSourceBody(f) }),
    async () => {
      await queries.invalidateQueries({ queryKey: ["datasources", project] });
      onClose();
    },
  );
  return (
    <Dialog label="New data source" title="New data source" onSubmit={(e) => void create(e)} onClose={onClose}>
      <Field field="name" label="Name" required error={errorOf("name")}>
        <input value={form.name} onChange={(e) => edit({ name: e.target.value })} aria-label="name" aria-invalid={!!errorOf("name")} autoFocus />
      </Field>
      <Field field="type" label="Type" error={errorOf("type")}>
        <select value={form.type} onChange={(e) => {
            const type = e.target.value as DataSourceForm["type"];
            // An SQLite file takes no password: one typed before goes with the field.
            edit(type === "sqlite" ? { type, password: "" } : { type });
          }} aria-label="type">
          {DATASOURCE_TYPES.map((t) => (
            <option key={t}>{t}</option>
          ))}
        </select>
      </Field>
      <Field field="url" label="URL" required help={form.type === "sqlite" ? "the file must exist on the server (a test never creates it)" : "user, host, port and database; the password goes below"} error={errorOf("url")}>
        <input className="mono" value={form.url} placeholder={urlExample(form.type)} onChange={(e) => edit({ url: e.target.value })} aria-label="url" aria-invalid={!!errorOf("url")} spellCheck={false} autoComplete="off" />
      </Field>
      {form.type !== "sqlite" && (
        <Field field="password" label="Password" help="kept sealed on the server, never shown again" error={errorOf("password")}>
          <input type="password" value={form.password} onChange={(e) => edit({ password: e.target.value })} aria-label="password" aria-invalid={!!errorOf("password")} autoComplete="new-password" />
        </Field>
      )}
      <GeneralErrors errors={server} shown={DATASOURCE_FIELDS} />
      <DialogButtons busy={busy} verb="Create" busyVerb="Creating…" onCancel={onClose} />
    </Dialog>
  );
}
