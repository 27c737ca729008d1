// The subsonic-response envelope in the spec's three shapes: XML (the default), JSON (f=json) and JSONP.
import type { FastifyReply } from "fastify";
import type { SubsonicError } from "./errors";

export const API_VERSION = "1.16.1";
export const SERVER_TYPE = "soundmesh";
export const SERVER_VERSION = "0.1.0";
const XML_NAMESPACE = "http://subsonic.org/restapi";

export type Format = "xml" | "json" | "jsonp";
/** What a method answers: the fields beside status and version, e.g. `{ album: {...} }`. */
export type Body = Record<string, unknown>;

export function envelope(status: "ok" | "failed", body: Body): Body {
  return {
    status,
    version: API_VERSION,
    type: SERVER_TYPE,
    serverVersion: SERVER_VERSION,
    openSubsonic: true,
    ...body,
  };
}

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) =>
    c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === '"' ? "&quot;" : "&apos;",
  );
}

/** Strips characters XML 1.0 cannot carry (control characters from messy tags), so a document always parses. */
function xmlSafe(text: string): string {
  // eslint-disable-next-line no-control-regex
  return escapeXml(text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, ""));
}

function isScalar(value: unknown): value is string | number | boolean {
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean";
}

/**
 * One element: scalar fields become attributes, objects child elements, arrays repeated child elements (a scalar
 * item as the element's text), and a field named `value` the element's text, as the spec's XSD has it.
 */
export function toXmlElement(name: string, value: unknown): string {
  if (isScalar(value)) return `<${name}>${xmlSafe(String(value))}</${name}>`;
  if (value === null || typeof value !== "object") return "";
  const entries = Object.entries(value as Record<string, unknown>);
  let attributes = "";
  let children = "";
  let text = "";
  for (const [key, field] of entries) {
    if (field === undefined || field === null) continue;
    if (key === "value" && isScalar(field)) text = xmlSafe(String(field));
    else if (isScalar(field)) attributes += ` ${key}="${xmlSafe(String(field))}"`;
    else if (Array.isArray(field)) for (const item of field) children += toXmlElement(key, item);
    else children += toXmlElement(key, field);
  }
  const body = children + text;
  return body === "" ? `<${name}${attributes}/>` : `<${name}${attributes}>${body}</${name}>`;
}

export function renderXml(response: Body): string {
  const root = toXmlElement("subsonic-response", { xmlns: XML_NAMESPACE, ...response });
  return `<?xml version="1.0" encoding="UTF-8"?>\n${root}`;
}

/** Only a plain JavaScript name may wrap a JSONP answer: a callback is never a place to inject script. */
const callbackName = /^[A-Za-z_$][\w$]{0,63}(\.[A-Za-z_$][\w$]{0,63}){0,3}$/;

export function isValidCallback(name: string): boolean {
  return callbackName.test(name);
}

export function sendBody(
  reply: FastifyReply,
  format: Format,
  response: Body,
  callback?: string,
): FastifyReply {
  const wrapped = { "subsonic-response": response };
  reply.header("cache-control", "no-store");
  if (format === "json") return reply.type("application/json; charset=utf-8").send(JSON.stringify(wrapped));
  if (format === "jsonp" && callback !== undefined)
    return reply
      .type("application/javascript; charset=utf-8")
      .send(`${callback}(${JSON.stringify(wrapped)});`);
  return reply.type("application/xml; charset=utf-8").send(renderXml(response));
}

export function sendError(reply: FastifyReply, format: Format, error: SubsonicError, callback?: string) {
  return sendBody(
    reply,
    format,
    envelope("failed", { error: { code: error.code, message: error.message } }),
    callback,
  );
}
