// Turns a failed command's error into one line for a person; loaded only when a command fails.
import { AppError } from "@soundmesh/protocol";
import { ConfigError } from "../config";

/** One line for a person: what was wrong, naming the rule that was broken, not the call that broke it. */
export function describeError(error: unknown): string {
  if (error instanceof ConfigError) return error.message;
  if (error instanceof AppError) {
    const details = Array.isArray(error.details)
      ? (error.details as Array<{ path?: unknown; message?: unknown }>)
      : [];
    const rules = details
      .filter((d) => typeof d.message === "string")
      .map((d) =>
        typeof d.path === "string" && d.path !== "" ? `${d.path}: ${String(d.message)}` : String(d.message),
      );
    return `error ${error.code}: ${rules.length > 0 ? rules.join("; ") : error.message}`;
  }
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const { address, port } = (error ?? {}) as { address?: string; port?: number };
  if (code === "EADDRINUSE")
    return `error: ${address ?? "the address"}:${port ?? "?"} is already in use (another soundmesh running?); choose another port with --port or SOUNDMESH_PORT`;
  if (code === "EACCES" && port !== undefined)
    return `error: no permission to listen on port ${port}; use a port above 1023 with --port or SOUNDMESH_PORT`;
  if (code === "EADDRNOTAVAIL")
    return `error: ${address ?? "the address"} is not an address of this machine; check --host or SOUNDMESH_HOST`;
  return "";
}
