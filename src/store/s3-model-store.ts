import { createWriteStream } from 'node:fs'
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { randomUUID } from 'node:crypto'
import { pipeline } from 'node:stream/promises'
import type { Readable } from 'node:stream'
import type { S3Client } from '@aws-sdk/client-s3'
import { ServekitError } from '../errors.js'
import { isSafeName } from '../config/schema.js'
import type { Artifact } from '../model/interface.js'
import { openArtifact } from './artifact.js'
import { assertSafe } from './fs-model-store.js'
import { compareVersions, type ModelRef, type ModelStore, type ServingState } from './model-store.js'
import { formatServingState, parseServingState, SERVING_STATE_FILE } from './serving-state.js'

export interface S3StoreOptions {
  bucket: string
  /** Key prefix, e.g. `models/`; a trailing "/" is added when missing. */
  prefix: string
  /** Local directory versions are downloaded to before `load`. */
  cacheDir: string
  /** Custom endpoint (MinIO, an S3-compatible server); otherwise the AWS default for the region. */
  endpoint?: string | undefined
  region?: string | undefined
  forcePathStyle?: boolean | undefined
}

const MANIFEST = 'model.json'
const COMPLETE_MARKER = '.servekit-complete'

/**
 * Artifacts in S3 under `<prefix><name>/<version>/`, downloaded to a local cache before loading.
 * A version counts as published once its `model.json` exists: `publish` uploads it last.
 * Credentials come from the usual AWS chain (environment, shared config, instance role).
 */
export class S3ModelStore implements ModelStore {
  readonly description: string
  private readonly prefix: string
  private client: Promise<{ s3: S3Client; sdk: typeof import('@aws-sdk/client-s3') }> | undefined

  constructor(private readonly options: S3StoreOptions) {
    this.prefix = options.prefix === '' || options.prefix.endsWith('/') ? options.prefix : `${options.prefix}/`
    this.description = `s3://${options.bucket}/${this.prefix}`
  }

  /** The SDK is imported on first use: services on the local store never load it. */
  private sdk() {
    this.client ??= import('@aws-sdk/client-s3').then((sdk) => ({
      sdk,
      s3: new sdk.S3Client({
        ...(this.options.region ? { region: this.options.region } : {}),
        ...(this.options.endpoint ? { endpoint: this.options.endpoint } : {}),
        ...(this.options.forcePathStyle !== undefined ? { forcePathStyle: this.options.forcePathStyle } : {}),
      }),
    }))
    return this.client
  }

  private async listKeys(prefix: string): Promise<string[]> {
    const { s3, sdk } = await this.sdk()
    const keys: string[] = []
    let token: string | undefined
    do {
      const page = await s3.send(new sdk.ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: prefix, ContinuationToken: token }))
      for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key)
      token = page.IsTruncated ? page.NextContinuationToken : undefined
    } while (token)
    return keys
  }

  async versions(name: string): Promise<string[]> {
    assertSafe(name, 'model name')
    const base = `${this.prefix}${name}/`
    const versions = new Set<string>()
    for (const key of await this.listKeys(base)) {
      const rest = key.slice(base.length).split('/')
      if (rest.length === 2 && rest[1] === MANIFEST && rest[0]) versions.add(rest[0])
    }
    return [...versions].filter(isSafeName).sort(compareVersions)
  }

  async open(ref: ModelRef): Promise<Artifact> {
    assertSafe(ref.name, 'model name')
    assertSafe(ref.version, 'version')
    const dir = join(this.options.cacheDir, ref.name, ref.version)
    if (!(await exists(join(dir, COMPLETE_MARKER)))) await this.download(ref, dir)
    return openArtifact(dir, ref.name, ref.version)
  }

  /** Downloads into a private staging directory and renames it into the cache, so workers never see half a version. */
  private async download(ref: ModelRef, dir: string): Promise<void> {
    const { s3, sdk } = await this.sdk()
    const base = `${this.prefix}${ref.name}/${ref.version}/`
    const keys = await this.listKeys(base)
    if (!keys.includes(base + MANIFEST)) throw new ServekitError('model_load_failed', `${this.description}${ref.name}/${ref.version}/ has no ${MANIFEST}: not a published version`)
    const staging = `${dir}.download-${randomUUID()}`
    try {
      for (const key of keys) {
        const file = resolve(staging, key.slice(base.length))
        const rel = relative(staging, file)
        if (rel.startsWith('..') || rel.split(sep).includes('..')) throw new ServekitError('model_load_failed', `object key ${key} would leave the cache directory`)
        await mkdir(dirname(file), { recursive: true })
        const obj = await s3.send(new sdk.GetObjectCommand({ Bucket: this.options.bucket, Key: key }))
        await pipeline(obj.Body as Readable, createWriteStream(file))
      }
      await writeFile(join(staging, COMPLETE_MARKER), '')
      await mkdir(dirname(dir), { recursive: true })
      try {
        await rename(staging, dir)
      } catch (err) {
        // Another worker finished the same download first: use its copy.
        if (!(await exists(join(dir, COMPLETE_MARKER)))) throw err
      }
    } finally {
      await rm(staging, { recursive: true, force: true })
    }
  }

  async publish(ref: ModelRef, sourceDir: string): Promise<void> {
    assertSafe(ref.name, 'model name')
    assertSafe(ref.version, 'version')
    const { s3, sdk } = await this.sdk()
    const base = `${this.prefix}${ref.name}/${ref.version}/`
    if ((await this.listKeys(base)).length > 0) throw new ServekitError('invalid_request', `${ref.name}@${ref.version} already exists in ${this.description}; versions are immutable`)
    const files = (await readdir(sourceDir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => relative(sourceDir, join(e.parentPath, e.name)))
    const ordered = [...files.filter((f) => f !== MANIFEST), ...files.filter((f) => f === MANIFEST)]
    for (const file of ordered) {
      await s3.send(new sdk.PutObjectCommand({ Bucket: this.options.bucket, Key: base + file.split(sep).join('/'), Body: await readFile(join(sourceDir, file)) }))
    }
  }

  async readServingState(name: string): Promise<ServingState> {
    assertSafe(name, 'model name')
    const { s3, sdk } = await this.sdk()
    const key = `${this.prefix}${name}/${SERVING_STATE_FILE}`
    try {
      const obj = await s3.send(new sdk.GetObjectCommand({ Bucket: this.options.bucket, Key: key }))
      return parseServingState(await obj.Body!.transformToString(), `s3://${this.options.bucket}/${key}`)
    } catch (err) {
      if ((err as { name?: string }).name === 'NoSuchKey') return {}
      throw err
    }
  }

  async writeServingState(name: string, state: ServingState): Promise<void> {
    assertSafe(name, 'model name')
    const { s3, sdk } = await this.sdk()
    await s3.send(new sdk.PutObjectCommand({ Bucket: this.options.bucket, Key: `${this.prefix}${name}/${SERVING_STATE_FILE}`, Body: formatServingState(state), ContentType: 'application/json' }))
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch {
    return false
  }
}
