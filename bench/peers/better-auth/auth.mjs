// The Better-Auth instance under test: email and password, PostgreSQL through a `pg` Pool,
// rate limiting and email verification off, and the bearer plugin so that the session token
// can also be sent as `Authorization: Bearer …` (Better-Auth's own way of doing bearer auth).
import { betterAuth } from "better-auth";
import { bearer } from "better-auth/plugins/bearer";
import pg from "pg";

export function createAuth() {
  const port = process.env.BA_PORT ?? "18320";
  return betterAuth({
    baseURL: `http://127.0.0.1:${port}`,
    secret: process.env.BETTER_AUTH_SECRET,
    database: new pg.Pool({
      connectionString: process.env.BA_DATABASE_URL,
      max: Number(process.env.BA_POOL_SIZE ?? 10),
    }),
    emailAndPassword: {
      enabled: true,
      requireEmailVerification: false,
      autoSignIn: true,
    },
    emailVerification: { sendOnSignUp: false },
    // Disabled for the benchmark (it is off outside production anyway; this makes it explicit).
    rateLimit: { enabled: false },
    telemetry: { enabled: false },
    logger: { level: "error" },
    plugins: [bearer()],
  });
}
