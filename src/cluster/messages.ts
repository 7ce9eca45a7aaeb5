/** Messages between the primary and its workers over the cluster IPC channel. */
export type WorkerMessage = { type: 'servekit:listening'; address: string; port: number }
export type PrimaryMessage = { type: 'servekit:shutdown' }

export const isWorkerMessage = (m: unknown): m is WorkerMessage =>
  typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string' && (m as { type: string }).type.startsWith('servekit:')
