// One Vitest config for the whole monorepo, in two projects: "node" (each package's test/ folder plus whole-system
// tests in test/e2e) and "web" (the player's React components in a DOM, happy-dom; apps/web/test).
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    reporters: ["default"],
    projects: [
      {
        extends: true,
        test: {
          name: "node",
          include: [
            "packages/*/test/**/*.test.ts",
            "services/*/test/**/*.test.ts",
            "apps/server/test/**/*.test.ts",
            "test/e2e/**/*.test.ts",
          ],
          // Builds the server and the web player once for the suites that spawn them (test/global-setup.ts).
          globalSetup: ["test/global-setup.ts"],
        },
      },
      {
        extends: true,
        // The automatic JSX runtime, as apps/web's tsconfig says (`jsx: react-jsx`).
        oxc: { jsx: { runtime: "automatic" } },
        test: {
          name: "web",
          include: ["apps/web/test/**/*.test.tsx"],
          environment: "happy-dom",
          // One DOM per worker, not per file: starting happy-dom and importing React for each file cost three times
          // the tests themselves. Each test cleans up what it rendered and the storage (apps/web/test/setup.ts).
          isolate: false,
          setupFiles: ["apps/web/test/setup.ts"],
        },
      },
    ],
  },
});
