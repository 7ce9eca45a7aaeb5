import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
// s3rver: a real S3-protocol server (Koa, filesystem-backed), started here on 127.0.0.1.
import S3rver from 's3rver'

export interface S3Server {
  readonly endpoint: string
  readonly bucket: string
  /** Environment for the AWS SDK (s3rver's fixed credentials). */
  readonly env: Record<string, string>
  close(): Promise<void>
}

export async function startS3Server(bucket = 'models'): Promise<S3Server> {
  const directory = await mkdtemp(join(tmpdir(), 'servekit-s3rver-'))
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket, configs: [] }] })
  const addr = (await server.run()) as AddressInfo
  const endpoint = `http://127.0.0.1:${addr.port}`
  return {
    endpoint,
    bucket,
    env: { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' },
    async close() {
      await server.close()
      await rm(directory, { recursive: true, force: true })
    },
  }
}
