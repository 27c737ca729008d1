// @soundmesh/test-kit/browser: Chromium for the browser suites, and the page helpers they share.
export * from "./chromium";
export * from "./pages";
