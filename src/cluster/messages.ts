/** Messages between the primary and its workers over the cluster IPC channel. */
export type WorkerMessage =
  | { type: 'servekit:listening'; address: string; port: number; admin_address: string | null }
  /** An admin call changed a model's serving state: the primary relays it to the other workers. */
  | { type: 'servekit:changed'; model_id: string }

export type PrimaryMessage = { type: 'servekit:shutdown' } | { type: 'servekit:reconcile'; model_id: string }

export const isWorkerMessage = (m: unknown): m is WorkerMessage =>
  typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string' && (m as { type: string }).type.startsWith('servekit:')
