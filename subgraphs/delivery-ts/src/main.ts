// `node dist/src/main.js`: serves the delivery subgraph on HOST:PORT (default 127.0.0.1:4004).

import { createApp } from "./app.js";
import { settingsFromEnv } from "./config.js";
import { logger } from "./log.js";

const log = logger("delivery");

async function main(): Promise<void> {
  const settings = settingsFromEnv();
  const app = await createApp(settings);
  app.server.listen(settings.port, settings.host, () => {
    log.info(`delivery (TypeScript) serving on http://${settings.host}:${settings.port}/graphql`);
  });
  const shutdown = (signal: string): void => {
    log.info(`${signal}: stopping`);
    app.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error("stopping failed", error);
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}

main().catch((error: unknown) => {
  log.error("delivery failed to start", error);
  process.exit(1);
});
