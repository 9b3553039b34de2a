// Creates Better-Auth's tables (user, session, account, verification) in BA_DATABASE_URL
// with its own Kysely migrator, the code behind `npx @better-auth/cli migrate`, offline.
import { getMigrations } from "better-auth/db/migration";
import { createAuth } from "./auth.mjs";

const auth = createAuth();
const { toBeCreated, toBeAdded, runMigrations } = await getMigrations(auth.options);
await runMigrations();
console.log(
  `better-auth tables: created ${toBeCreated.map((t) => t.table).join(", ") || "none"}` +
    (toBeAdded.length ? `; columns added to ${toBeAdded.map((t) => t.table).join(", ")}` : ""),
);
await auth.options.database.end();
