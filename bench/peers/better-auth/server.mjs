// Better-Auth mounted on plain node:http with toNodeHandler, as BA_WORKERS (default 2)
// node:cluster workers sharing one port. The primary only forks and forwards signals.
import cluster from "node:cluster";
import http from "node:http";
import { toNodeHandler } from "better-auth/node";
import { createAuth } from "./auth.mjs";

const port = Number(process.env.BA_PORT ?? 18320);
const workers = Number(process.env.BA_WORKERS ?? 2);

if (cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  let stopping = false;
  const stop = () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers)) worker.process.kill("SIGTERM");
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  cluster.on("exit", (worker, code, signal) => {
    if (!stopping) {
      console.error(`worker ${worker.process.pid} exited (${signal ?? code})`);
      process.exitCode = 1;
    }
    if (Object.keys(cluster.workers).length === 0) process.exit();
  });
} else {
  const handler = toNodeHandler(createAuth());
  const server = http.createServer(handler);
  server.keepAliveTimeout = 65_000;
  server.listen(port, "127.0.0.1");
  process.on("SIGTERM", () => server.close(() => process.exit(0)));
}
