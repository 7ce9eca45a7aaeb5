import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FsModelStore } from '../../../src/store/fs-model-store.js'
import { S3ModelStore } from '../../../src/store/s3-model-store.js'
import { runModelStoreContract } from '../../contracts/model-store.contract.js'
import { startS3Server } from '../../helpers/s3-server.js'

runModelStoreContract('FsModelStore', async () => {
  const root = await mkdtemp(join(tmpdir(), 'servekit-fs-store-'))
  return { store: new FsModelStore(root), cleanup: () => rm(root, { recursive: true, force: true }) }
})

runModelStoreContract('S3ModelStore against s3rver', async () => {
  const s3 = await startS3Server()
  Object.assign(process.env, s3.env)
  const cacheDir = await mkdtemp(join(tmpdir(), 'servekit-s3-cache-'))
  const store = new S3ModelStore({ bucket: s3.bucket, prefix: 'team/models', cacheDir, endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1' })
  return {
    store,
    cleanup: async () => {
      await s3.close()
      await rm(cacheDir, { recursive: true, force: true })
    },
  }
})
