import type { MonitoringCollect, MonitoringReport, MonitoringSettings } from '../observe/monitoring/cluster.js'
import type { GatheredSnapshots, SnapshotQuery } from '../observe/monitoring/snapshot.js'

/** Messages between the primary and its workers over the cluster IPC channel. */
export type WorkerMessage =
  /** `monitoring`: the drift settings (the primary reads no config); null when monitoring is off. */
  | { type: 'servekit:listening'; address: string; port: number; admin_address: string | null; monitoring?: MonitoringSettings | null }
  /** An admin call changed a model's serving state: the primary relays it to the other workers. */
  | { type: 'servekit:changed'; model_id: string }
  /** GET /metrics on a worker: the primary gathers every worker's registry and answers. */
  | { type: 'servekit:metrics-request'; id: number }
  /** A worker's own metrics, answering the primary's `servekit:metrics-collect`. */
  | { type: 'servekit:metrics-report'; id: number; metrics: unknown[] }
  /** GET /models/:id/monitoring on a worker: the primary collects every worker's state, merges it and answers. */
  | { type: 'servekit:monitoring-request'; id: number; query: SnapshotQuery }
  /** A worker's answer to `servekit:monitoring-collect`. */
  | MonitoringReport
  /** The event loop is alive (sent from a timer; see watchdog.ts). */
  | { type: 'servekit:heartbeat' }
  /** RSS is above `server.maxRssMb`: the primary starts a replacement, then drains this worker. */
  | { type: 'servekit:recycle'; reason: 'memory'; rss_bytes: number }

export type PrimaryMessage =
  /** Drain: finish in-flight requests, flush, exit 0 (SIGTERM, or this worker has been replaced). */
  | { type: 'servekit:shutdown'; reason?: 'memory' | 'rolling' }
  | { type: 'servekit:reconcile'; model_id: string }
  | { type: 'servekit:metrics-response'; id: number; text: string; contentType: string; error?: string }
  | { type: 'servekit:metrics-collect'; id: number }
  /** The primary asks each listening worker for its monitoring state. */
  | MonitoringCollect
  | { type: 'servekit:monitoring-response'; id: number; gathered: GatheredSnapshots }

export const isWorkerMessage = (m: unknown): m is WorkerMessage =>
  typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string' && (m as { type: string }).type.startsWith('servekit:')
