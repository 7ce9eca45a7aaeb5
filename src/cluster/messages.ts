/** Messages between the primary and its workers over the cluster IPC channel. */
export type WorkerMessage =
  | { type: 'servekit:listening'; address: string; port: number; admin_address: string | null }
  /** An admin call changed a model's serving state: the primary relays it to the other workers. */
  | { type: 'servekit:changed'; model_id: string }
  /** GET /metrics on a worker: the primary gathers every worker's registry and answers. */
  | { type: 'servekit:metrics-request'; id: number }

export type PrimaryMessage =
  | { type: 'servekit:shutdown' }
  | { type: 'servekit:reconcile'; model_id: string }
  | { type: 'servekit:metrics-response'; id: number; text: string; contentType: string; error?: string }

export const isWorkerMessage = (m: unknown): m is WorkerMessage =>
  typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string' && (m as { type: string }).type.startsWith('servekit:')
