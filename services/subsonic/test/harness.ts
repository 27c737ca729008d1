// A real soundmesh server on the fixture libraries (clean and messily tagged), with an admin and a plain user who
// each have a Subsonic password, an API key, and helpers to call /rest in XML or JSON.
import { createHash } from "node:crypto";
import { XMLParser } from "fast-xml-parser";
import { SubsonicAPI } from "subsonic-api";
import { catalogContract, searchContract, userContract } from "@soundmesh/protocol";
import {
  WsClient,
  generateFixtureLibrary,
  generateRealWorldLibrary,
  login,
  setupAdmin,
  waitUntil,
} from "@soundmesh/test-kit";
import { startServer, type TestServer } from "@soundmesh/test-kit/server";

export const ADMIN = { name: "admin", password: "correct horse battery", subsonic: "subsonic-admin-pw" };
export const USER = { name: "bea", password: "bea's login password", subsonic: "bea-subsonic-pw" };

export interface Harness {
  server: TestServer;
  adminWs: WsClient;
  userWs: WsClient;
  apiKey: string;
  audioFiles: number;
  /** The subsonic-api client signed in with a salted token as `who`. */
  client(who?: typeof ADMIN, options?: { post?: boolean }): SubsonicAPI;
  /** GET /rest/<method> with the admin's token auth and these params; the raw response. */
  raw(
    method: string,
    params?: Record<string, string | string[]>,
    init?: { auth?: Record<string, string> },
  ): Promise<Response>;
  /** The subsonic-response of a JSON call. */
  json(
    method: string,
    params?: Record<string, string | string[]>,
    auth?: Record<string, string>,
  ): Promise<Record<string, unknown>>;
  /** The subsonic-response of an XML call, parsed with fast-xml-parser (attributes as fields, repeated elements as arrays). */
  xml(
    method: string,
    params?: Record<string, string | string[]>,
    auth?: Record<string, string>,
  ): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export function passwordAuth(who = ADMIN): Record<string, string> {
  return { u: who.name, p: who.subsonic };
}

export async function startHarness(extra?: { folder: string; audioFiles: number }): Promise<Harness> {
  const fixture = await generateFixtureLibrary();
  const messy = await generateRealWorldLibrary();
  const folders = [fixture.root, messy.root, ...(extra ? [extra.folder] : [])];
  const server = await startServer({ libraryFolders: folders });
  const audioFiles = fixture.audioFiles + messy.audioFiles + (extra?.audioFiles ?? 0);
  const adminToken = await setupAdmin(server.url, ADMIN.name, ADMIN.password);
  const adminWs = await WsClient.connect(server.url, adminToken);
  await waitUntil(
    () => adminWs.call(catalogContract, "scanStatus"),
    (status) => !status.running && status.added === audioFiles,
    60_000,
  );
  await adminWs.call(userContract, "setMySubsonicPassword", { password: ADMIN.subsonic });
  const { token: apiKey } = await adminWs.call(userContract, "createApiToken", {
    label: "phone",
  });
  await adminWs.call(userContract, "createUser", { name: USER.name, password: USER.password });
  const userWs = await WsClient.connect(server.url, await login(server.url, USER.name, USER.password));
  await userWs.call(userContract, "setMySubsonicPassword", { password: USER.subsonic });
  // Search answers once its index holds the scanned library.
  await waitUntil(
    () => adminWs.call(searchContract, "query", { q: "sigur" }),
    (result) => result.hits.length > 0,
    30_000,
  );

  const url = (method: string, params: Record<string, string | string[]>, auth: Record<string, string>) => {
    const target = new URL(`${server.url}/rest/${method}`);
    for (const [name, value] of Object.entries({ v: "1.16.1", c: "conformance", ...auth, ...params }))
      for (const item of Array.isArray(value) ? value : [value]) target.searchParams.append(name, item);
    return target;
  };
  const tokenAuth = () => {
    const salt = Math.random().toString(36).slice(2, 10);
    return { u: ADMIN.name, s: salt, t: md5(ADMIN.subsonic + salt) };
  };
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: "",
    parseAttributeValue: false,
    parseTagValue: false,
    textNodeName: "value",
    jPath: true,
    isArray: (name, path, _isLeaf, isAttribute) =>
      !isAttribute &&
      (String(path) === "subsonic-response.openSubsonicExtensions" ||
        (String(path).split(".").length >= 3 && repeatedNames.has(name))),
  });
  const raw: Harness["raw"] = (method, params = {}, init = {}) =>
    fetch(url(method, params, init.auth ?? tokenAuth()));
  return {
    server,
    adminWs,
    userWs,
    apiKey,
    audioFiles,
    client: (who = ADMIN, options = {}) =>
      new SubsonicAPI({
        url: server.url,
        auth: { username: who.name, password: who.subsonic },
        post: options.post ?? false,
      }),
    raw,
    async json(method, params = {}, auth) {
      const response = await fetch(url(method, { ...params, f: "json" }, auth ?? tokenAuth()));
      const body = (await response.json()) as { "subsonic-response": Record<string, unknown> };
      return body["subsonic-response"];
    },
    async xml(method, params = {}, auth) {
      const response = await fetch(url(method, params, auth ?? tokenAuth()));
      const text = await response.text();
      const parsed = parser.parse(text) as { "subsonic-response": Record<string, unknown> };
      return parsed["subsonic-response"];
    },
    async close() {
      await adminWs.close();
      await userWs.close();
      await server.close();
    },
  };
}

/** Elements that repeat in the spec's XSD (below the top level): parsed as arrays even when one is present. */
const repeatedNames = new Set(
  "index artist album song child entry genre playlist musicFolder user similarArtist line structuredLyrics folder allowedUser versions genres artists albumArtists releaseTypes recordLabels moods discTitles roles bookmark internetRadioStation share transcodeReason".split(
    " ",
  ),
);

export function md5(text: string): string {
  return createHash("md5").update(text, "utf8").digest("hex");
}
