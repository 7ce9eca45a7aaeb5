import { resolve } from 'node:path'
import type { LoadedConfig } from '../config/load-config.js'
import { FsModelStore } from './fs-model-store.js'
import type { ModelStore } from './model-store.js'
import { S3ModelStore } from './s3-model-store.js'

/** The store a config names; relative paths are relative to the config file. */
export function createStore(loaded: Pick<LoadedConfig, 'config' | 'dir'>): ModelStore {
  const store = loaded.config.store
  if (typeof store === 'string') return new FsModelStore(resolve(loaded.dir, store))
  return new S3ModelStore({ ...store, cacheDir: resolve(loaded.dir, store.cacheDir) })
}
