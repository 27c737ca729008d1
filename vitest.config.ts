// One Vitest config for the whole monorepo: each package's test/ folder plus whole-system tests in test/e2e.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "packages/*/test/**/*.test.ts",
      "services/*/test/**/*.test.ts",
      "apps/server/test/**/*.test.ts",
      "test/e2e/**/*.test.ts",
    ],
    // Builds the web player once for the browser suites (test/global-setup.ts).
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    reporters: ["default"],
  },
});
