/**
 * The error catalogue: every stable error code servekit can return, in one place.
 *
 * The code is the contract; the message is for people. Codes are never renamed or reused:
 * retire one by commenting it out here with the date, and keep its docs section.
 * HTTP statuses live in `server/error-handler.ts` only.
 */
export const errorCodes = {
  // Client errors on the data plane.
  invalid_json: 'Request body is not valid JSON',
  invalid_request: 'The request does not have the expected shape',
  unsupported_media_type: 'Request body must be application/json',
  payload_too_large: 'Request body is larger than the configured limit',
  model_not_found: 'No model with that id',
  version_not_found: 'No loaded version of that model matches',
  not_found: 'No route for that method and path',
  method_not_allowed: 'That method is not allowed on this path',
  // Server-side failures.
  prediction_failed: 'The model threw while predicting',
  invalid_output: 'The model returned a value that cannot be sent as JSON',
  prediction_timeout: 'The prediction took longer than the model timeout',
  overloaded: 'The model is at its concurrency and queue limit',
  not_ready: 'The model is not loaded yet',
  internal_error: 'Unexpected server error',
  // Load time and configuration (reported by the CLI and on GET /models, not per request).
  config_invalid: 'The service config is invalid',
  model_load_failed: 'A model version failed to load',
  self_test_failed: 'A model version failed its self-test',
  incompatible_version: 'A model version rejects features the serving version accepts',
  // Control plane.
  unauthorized: 'Missing or wrong admin token',
} as const

/** A stable, documented error code. */
export type ErrorCode = keyof typeof errorCodes

/**
 * The one error class servekit throws and maps to responses.
 *
 * @example
 * throw new ServekitError('model_not_found', `model "eta" not found (known: a, b)`)
 */
export class ServekitError extends Error {
  override readonly name = 'ServekitError'
  /** Extra machine-readable detail sent to clients (e.g. the failing field). */
  readonly details: Record<string, unknown> | undefined

  constructor(
    readonly code: ErrorCode,
    message: string = errorCodes[code],
    options?: ErrorOptions & { details?: Record<string, unknown> },
  ) {
    super(message, options)
    this.details = options?.details
  }
}

/**
 * True when `err` is a ServekitError. Checked by shape too, because a user's model module may import
 * a different copy of servekit than the CLI that runs it.
 */
export function isServekitError(err: unknown): err is ServekitError {
  if (err instanceof ServekitError) return true
  if (!(err instanceof Error) || err.name !== 'ServekitError') return false
  const code = (err as Error & { code?: unknown }).code
  return typeof code === 'string' && Object.hasOwn(errorCodes, code)
}
