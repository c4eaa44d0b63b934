// The secret form: a name and a value (typed in a password field, sent once in the body of
// `PUT /secrets/{name}`), and their checks before anything is sent (the server stays the
// judge).
import type { FieldErrors } from "./forms";

/** What the form holds. */
export interface SecretForm {
  name: string;
  value: string;
}

/** The form's fields, in the server's names, for its refusals. */
export const SECRET_FIELDS = ["name", "value"];

/** The longest value the server keeps (`handlers::secrets::MAX_SECRET_BYTES`). */
export const MAX_SECRET_BYTES = 64 * 1024;

/** What is wrong with the form, by field (empty when it may be sent). */
export function secretErrors(f: SecretForm): FieldErrors {
  const out: FieldErrors = {};
  const name = f.name.trim();
  if (!name) out.name = "a name is needed";
  else if (name.length > 100 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    out.name = "letters, digits and _, not starting with a digit (at most 100), so that ${secret.NAME} refers to it";
  if (!f.value) out.value = "a value is needed";
  else if (new TextEncoder().encode(f.value).length > MAX_SECRET_BYTES) out.value = `at most ${MAX_SECRET_BYTES} bytes`;
  return out;
}
