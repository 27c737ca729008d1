// Entry of the web player; registers the service worker that keeps the app shell for offline use.
import "./zod-jitless";
// The shared styles first: each component's own (imported by its module) come after them and may refine them.
import "./styles.css";
import { createRoot } from "react-dom/client";
import { App } from "./App";

createRoot(document.getElementById("root")!).render(<App />);

// Not under `vite dev`, where a cached shell would hide every edit.
if ("serviceWorker" in navigator && import.meta.env.MODE !== "development")
  navigator.serviceWorker.register("/sw.js").catch((error: unknown) => {
    // The app works without it, only not offline; say why in the console for whoever debugs it.
    // eslint-disable-next-line no-console
    console.warn("service worker not registered", error);
  });
