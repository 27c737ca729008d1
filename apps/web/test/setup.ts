// Each component test starts from an empty page and empty storage (the app keeps settings and queues there).
import { cleanup, configure } from "@testing-library/react";
import { afterEach } from "vitest";

// `findBy…` and `waitFor` wait on a condition; on a loaded machine the default second can pass before a render.
configure({ asyncUtilTimeout: 10_000 });

afterEach(() => {
  cleanup();
  localStorage.clear();
  sessionStorage.clear();
});
