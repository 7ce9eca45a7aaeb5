/**
 * JSON schemas of the HTTP envelope. Fastify compiles them once at startup (ajv for bodies,
 * fast-json-stringify for responses), so the request path runs generated code only.
 */

const requestIdSchema = { type: 'string', minLength: 1, maxLength: 128 } as const
const modelIdSchema = { type: 'string', minLength: 1, maxLength: 256 } as const
const modelVersionSchema = { type: 'string', minLength: 1, maxLength: 128 } as const
const parametersSchema = { type: 'object' } as const
const experimentKeySchema = { type: 'string', minLength: 1, maxLength: 256 } as const

export const inferBodySchema = {
  type: 'object',
  required: ['model_id', 'features'],
  additionalProperties: false,
  properties: {
    model_id: modelIdSchema,
    model_version: modelVersionSchema,
    features: {},
    request_id: requestIdSchema,
    parameters: parametersSchema,
    experiment_key: experimentKeySchema,
  },
} as const

export const batchBodySchema = (maxItems: number) =>
  ({
    type: 'object',
    required: ['model_id', 'instances'],
    additionalProperties: false,
    properties: {
      model_id: modelIdSchema,
      model_version: modelVersionSchema,
      instances: { type: 'array', minItems: 1, maxItems: maxItems },
      request_id: requestIdSchema,
      parameters: parametersSchema,
      experiment_key: experimentKeySchema,
    },
  }) as const

const errorBodySchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } },
    },
  },
} as const

export const inferResponseSchema = {
  200: {
    type: 'object',
    properties: {
      output: {},
      model_id: { type: 'string' },
      model_version: { type: 'string' },
      request_id: { type: 'string' },
      arm: { type: 'string' },
    },
  },
} as const

export const batchResponseSchema = {
  200: {
    type: 'object',
    properties: {
      model_id: { type: 'string' },
      model_version: { type: 'string' },
      request_id: { type: 'string' },
      arm: { type: 'string' },
      results: {
        type: 'array',
        items: { type: 'object', properties: { output: {}, error: errorBodySchema.properties.error } },
      },
    },
  },
} as const
