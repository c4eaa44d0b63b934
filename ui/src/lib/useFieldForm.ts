// The state every settings form (data source, secret, alert channel and rule) keeps: the
// values, whether a send was tried, the server's refusal by field and busy, and the one way
// a send goes (checked first, the refusal mapped back to the fields it names).
import { useState, type FormEvent } from "react";
import { blocksSend, fieldError, refusal, type FieldErrors } from "./forms";

/** What a send answers, as the API client gives it. */
export interface SendAnswer {
  error?: unknown;
  response: Response;
}

/** A settings form: `check` gives its own problems by field (run on every render), `send`
 * makes the request, `done` runs after the server accepted it (refresh, close). */
export function useFieldForm<F>(initial: F | (() => F), check: (form: F) => FieldErrors) {
  const [form, setForm] = useState<F>(initial);
  const [touched, setTouched] = useState(false);
  const [server, setServer] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);
  const local = check(form);
  /** The problem `field` shows now. */
  const errorOf = (field: string) => fieldError(server, local, touched, field);
  /** Changes some values; the server's last refusal no longer applies to them. */
  const edit = (change: Partial<F>) => {
    setForm((f) => ({ ...f, ...change }));
    setServer({});
  };
  /** The submit handler: the form's own problems stop it, else it sends once. */
  const submit = (send: (form: F) => Promise<SendAnswer>, done: () => Promise<void> | void) => async (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (blocksSend(local)) return;
    setBusy(true);
    const answer = await send(form);
    setBusy(false);
    if (!answer.response.ok) return setServer(refusal(answer.response.status, answer.error));
    await done();
  };
  return { form, server, busy, errorOf, edit, submit };
}
