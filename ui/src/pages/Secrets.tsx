import { useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { useParams } from "react-router";
import { api, data } from "../api/client";
import { Dialog } from "../components/Dialog";
import { OlderPager } from "../components/OlderPager";
import { ConfirmDelete, DialogButtons, ErrorLine, Field, GeneralErrors, SettingsHead, usePaged, useRemove } from "../components/Settings";
import { can, useMe } from "../lib/auth";
import { useFieldForm } from "../lib/useFieldForm";
import { time } from "../lib/format";
import { secretErrors, SECRET_FIELDS, type SecretForm } from "../lib/secrets";

/** `/projects/:project/secrets`: the names of the project's secrets (the API never returns a
 * value), by name a page at a time; editors set one (the value typed in a password field,
 * sent once) or replace its value, and delete one. */
export default function SecretsPage() {
  const { project = "" } = useParams();
  const me = useMe();
  const editor = can(me.data, project, "editor");
  const [setting, setSetting] = useState<{ name: string } | null>(null);
  const { pages, list } = usePaged(
    ["secrets", project],
    async (cursor) => data(await api.GET("/api/v1/secrets", { params: { query: { project, cursor, limit: 100 } } })),
    (p) => p.secrets,
  );
  const [error, remove] = useRemove(["secrets", project], (name: string) => api.DELETE("/api/v1/secrets/{name}", { params: { path: { name }, query: { project } } }));
  return (
    <section className="page">
      <SettingsHead project={project} title="secrets">
        {editor && (
          <button className="primary" onClick={() => setSetting({ name: "" })} data-testid="new-secret">
            + Set a secret
          </button>
        )}
      </SettingsHead>
      <p className="muted">
        An http task's headers and body use a secret as <code>{"${secret.NAME}"}</code>. Values are sealed on the server and never shown.
      </p>
      {pages.error && <p className="error">{pages.error.message}</p>}
      <ErrorLine error={error} />
      <table className="grid" data-testid="secrets">
        <thead>
          <tr>
            <th>Name</th>
            <th>Created</th>
            <th>Value set</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {list.map((s) => (
            <tr key={s.name} data-secret={s.name}>
              <td className="mono">{s.name}</td>
              <td>{time(s.created_at)}</td>
              <td>{time(s.updated_at)}</td>
              <td>
                {editor && (
                  <span className="row-actions">
                    <button type="button" className="ghost" onClick={() => setSetting({ name: s.name })} aria-label={`New value for ${s.name}`}>
                      new value
                    </button>
                    <ConfirmDelete what={s.name} onConfirm={() => remove(s.name)} />
                  </span>
                )}
              </td>
            </tr>
          ))}
          {pages.data && list.length === 0 && (
            <tr>
              <td colSpan={4} className="muted">
                This project has no secret.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <OlderPager pages={pages} label="More →" />
      {setting && <SecretDialog project={project} name={setting.name} onClose={() => setSetting(null)} />}
    </section>
  );
}

/** Sets a secret: its name (given when a value is replaced) and its value, in a password
 * field, sent once in the body (`PUT /secrets/{name}`) and forgotten with the form. */
function SecretDialog({ project, name, onClose }: { project: string; name: string; onClose: () => void }) {
  const queries = useQueryClient();
  const replacing = name !== "";
  const { form, server, busy, errorOf, edit, submit } = useFieldForm<SecretForm>({ name, value: "" }, secretErrors);
  const set = submit(
    (f) => api.PUT("/api/v1/secrets/{name}", { params: { path: { name: f.name.trim() }, query: { project } }, body: { value: f.value } }),
    async () => {
      await queries.invalidateQueries({ queryKey: ["secrets", project] });
      onClose();
    },
  );
  return (
    <Dialog label="Set a secret" title={replacing ? <>New value for <span className="mono">{name}</span></> : "Set a secret"} onSubmit={(e) => void set(e)} onClose={onClose}>
      {!replacing && (
        <Field field="name" label="Name" required help="letters, digits and _ (used as ${secret.NAME}); an existing name gets the new value" error={errorOf("name")}>
          <input className="mono" value={form.name} onChange={(e) => edit({ name: e.target.value })} aria-label="name" aria-invalid={!!errorOf("name")} autoFocus spellCheck={false} autoComplete="off" />
        </Field>
      )}
      <Field field="value" label="Value" required help="sealed on the server; no answer ever holds it" error={errorOf("value") ?? (replacing ? errorOf("name") : undefined)}>
        <input type="password" value={form.value} onChange={(e) => edit({ value: e.target.value })} aria-label="value" aria-invalid={!!errorOf("value")} autoComplete="new-password" autoFocus={replacing} />
      </Field>
      <GeneralErrors errors={server} shown={SECRET_FIELDS} />
      <DialogButtons busy={busy} verb="Set" busyVerb="Setting…" onCancel={onClose} />
    </Dialog>
  );
}
