// pino logger for the server: JSON lines on stdout (pretty in a terminal when asked with SOUNDMESH_PRETTY_LOGS=1).
import pino, { type Logger } from "pino";

export function createLogger(level: string, pretty = process.env.SOUNDMESH_PRETTY_LOGS === "1"): Logger {
  return pino({
    level,
    base: { app: "soundmesh" },
    redact: {
      paths: [
        "password",
        "*.password",
        "token",
        "*.token",
        "req.headers.authorization",
        "req.headers.cookie",
      ],
      censor: "[redacted]",
    },
    ...(pretty ? { transport: { target: "pino-pretty", options: { colorize: true } } } : {}),
  });
}
