// Loaded before a command that does its work and exits (everything but `serve` and `peer`): zod then checks values
// without compiling a parser of its own for each object schema (`new Function`, a fast path that pays back only over
// many values of the same shape, as a long-running server checks), so a command checks its few messages sooner.
// Set before any schema is made, since each object schema reads it when it is created.
import { z } from "zod";

z.config({ jitless: true });
