// Route schemas are zod schemas, most of them taken from the service contracts: Fastify validates params, query and
// body with them (transforms and defaults applied) before the handler, and handlers get the parsed types. In the
// style of fastify-type-provider-zod, in a few lines, so a refusal is the catalogue's VALIDATION_FAILED with the
// route's own message rather than Fastify's FST_ERR_VALIDATION.
import type { FastifyInstance, FastifySchemaCompiler, FastifyTypeProvider } from "fastify";
import type { z } from "zod";
import { AppError, issueDetails } from "@soundmesh/protocol";

/** Types `request.params`, `.query` and `.body` from a route's zod schemas. */
export interface ZodTypeProvider extends FastifyTypeProvider {
  validator: this["schema"] extends z.ZodType ? z.output<this["schema"]> : unknown;
  serializer: this["schema"] extends z.ZodType ? z.input<this["schema"]> : unknown;
}

const fallbackMessage = "The request does not match the expected shape";

/**
 * Runs the zod schema; a refusal says the schema's description (`.describe("…")`: what the route expects) and
 * lists the issues. An absent part (no query string, no body) is validated as `{}`.
 */
const zodCompiler: FastifySchemaCompiler<z.ZodType> =
  ({ schema }) =>
  (data) => {
    const parsed = schema.safeParse(data ?? {});
    if (parsed.success) return { value: parsed.data };
    return {
      error: new AppError("VALIDATION_FAILED", schema.description ?? fallbackMessage, {
        details: issueDetails(parsed.error, 10),
      }),
    };
  };

/** Makes zod the validator of every route registered on `app` and its plugins from now on. */
export function useZodSchemas(app: FastifyInstance): void {
  app.setValidatorCompiler(zodCompiler);
}
