// ekmd's JSON schemas and their validators. The build writes each validator as Ajv
// standalone code beside this module (scripts/build/config-validator), so that a start
// neither loads Ajv nor compiles a schema (~100 ms); a generated module is used only when
// it was made from the same schema, else Ajv compiles the schema here.
import type { ErrorObject } from 'ajv';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { keyPlanSchema } from '../cluster/boot-unlock/key-plan-schema';
import { AJV_OPTIONS, GENERATED_VALIDATOR, configSchema } from './config-schema';

export type Validate = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };

export interface SchemaSpec {
  /** The generated module's file name, beside this module in dist. */
  file: string;
  schema: object;
  options: object;
}

export const CONFIG_SCHEMA: SchemaSpec = {
  file: GENERATED_VALIDATOR,
  schema: configSchema,
  options: AJV_OPTIONS,
};

export const KEY_PLAN_SCHEMA: SchemaSpec = {
  file: 'key-plan-validator.generated.js',
  schema: keyPlanSchema,
  options: { strict: true },
};

/** Every schema the build generates a validator for. */
export const GENERATED_SCHEMAS = [CONFIG_SCHEMA, KEY_PLAN_SCHEMA];

/**
 * The generated modules compiled into the daemon's bundle, by file name: the bundle step
 * (scripts/build/bundle-daemon) writes them in here, so that a start reads them from the
 * bundle's code cache rather than compiling them from files. Empty outside the bundle.
 */
const BUNDLED_VALIDATORS: Record<string, unknown> = {};

export function schemaValidator(
  spec: SchemaSpec,
  dir = __dirname,
): { validate: Validate; generated: boolean } {
  const file = join(dir, spec.file);
  const bundled = dir === __dirname ? BUNDLED_VALIDATORS[spec.file] : undefined;
  if (bundled || existsSync(file)) {
    const generated = (bundled ?? require(file)) as Validate & { schemaJson?: string };
    if (generated.schemaJson === JSON.stringify(spec.schema))
      return { validate: generated, generated: true };
  }
  const { default: Ajv } = require('ajv') as typeof import('ajv');
  return { validate: new Ajv(spec.options).compile(spec.schema), generated: false };
}
