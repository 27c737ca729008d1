// Imported first by main.tsx: zod compiles fast parsers with `new Function` unless told not to, and merely probing
// for that is a `securitypolicyviolation` under the player's CSP (no 'unsafe-eval'). Schemas are made as modules load,
// so this runs before any module that defines one.
import { config } from "zod";

config({ jitless: true });
