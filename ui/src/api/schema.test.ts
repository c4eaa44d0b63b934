import { readFile } from "node:fs/promises";
import { expect, it } from "vitest";
// @ts-expect-error: a plain ES module of the build scripts, without types
import { SCHEMA, schemaText } from "../../scripts/schema.mjs";

it("schema.d.ts is generated from the committed openapi.json (else: npm run gen:api)", async () => {
  const committed = await readFile(SCHEMA as URL, "utf8");
  const fresh = (await schemaText()) as string;
  if (committed !== fresh) {
    throw new Error("src/api/schema.d.ts is stale against src/api/openapi.json: run `npm run gen:api -- --types-only` in ui/");
  }
  expect(committed).toBe(fresh);
}, 30_000);
