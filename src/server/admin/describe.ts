import type { ModelEntry } from '../../model/registry.js'
import type { LoadedVersion } from '../../model/version-loader.js'

const ms = (n: number): number => Math.round(n * 100) / 100

/** A loaded version as `GET /models` and the admin API show it. */
export function describeVersion(v: LoadedVersion, entry: ModelEntry) {
  const t = v.selfTest
  return {
    version: v.version,
    status: v === entry.serving ? 'serving' : 'loaded',
    aliases: Object.entries(entry.aliases)
      .filter(([, target]) => target === v.version)
      .map(([alias]) => alias),
    loaded_at: v.loadedAt.toISOString(),
    load_ms: ms(v.loadMs),
    framework: v.artifact.manifest.framework ?? null,
    description: v.artifact.manifest.description ?? null,
    self_test: {
      status: t.status,
      cases: t.cases,
      failed: t.failed,
      max_error: Number.isFinite(t.maxError) ? t.maxError : null,
      duration_ms: ms(t.durationMs),
      failures: t.failures.map((f) => ({ name: f.name, reason: f.reason ?? null, expected: f.expected, got: f.got ?? null })),
    },
  }
}

/** A configured model: status, default version, loaded versions and failed ones. */
export function describeModel(entry: ModelEntry) {
  return {
    model_id: entry.id,
    status: entry.status,
    default_version: entry.serving?.version ?? null,
    aliases: entry.aliases,
    error: entry.error ?? null,
    versions: [
      ...[...entry.loaded.values()].map((v) => describeVersion(v, entry)),
      ...[...entry.failures].map(([version, error]) => ({ version, status: 'failed', error })),
    ],
  }
}
