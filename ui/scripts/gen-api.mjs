// `npm run gen:api`: refreshes the committed OpenAPI document from the server's code
// (the Rust test that compares them writes it when BATON_UPDATE_OPENAPI=1), then the
// TypeScript types generated from it. `--types-only` skips the cargo step.
import { execFileSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { SCHEMA, schemaText } from "./schema.mjs";

if (!process.argv.includes("--types-only")) {
  const root = fileURLToPath(new URL("../..", import.meta.url));
  execFileSync("cargo", ["test", "-p", "baton-api", "--test", "openapi", "--", "committed_document"], {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, BATON_UPDATE_OPENAPI: "1" },
  });
}
await writeFile(SCHEMA, await schemaText());
console.log(`wrote ${fileURLToPath(SCHEMA)}`);
