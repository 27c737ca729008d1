// Public entry of the OpenSubsonic API: a Fastify plugin under /rest that speaks to the services over the bus.
export { registerSubsonic, type SubsonicPluginOptions } from "./plugin";
export { API_VERSION, SERVER_TYPE } from "./response";
export { subsonicErrorTexts } from "./errors";
