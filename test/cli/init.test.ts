import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse as parseYaml, parseAllDocuments } from 'yaml'
import { z } from 'zod'
import { InitError, PLACEHOLDER_ORG, type InitOptions } from '../../src/cli/init/options.js'
import { listFiles, planFiles, type PlannedFile } from '../../src/cli/init/plan.js'
import type { Question } from '../../src/cli/init/prompt.js'
import { TOKEN_PATTERN, isBinary, outputPath, renderText, tokensFor, tokensIn } from '../../src/cli/init/render.js'
import { formatSummary, runInit } from '../../src/cli/init/run-init.js'
import { BASE_TEMPLATE, TEMPLATES, TEMPLATES_DIR, formatTemplateList } from '../../src/cli/init/templates.js'
import { runCli } from '../helpers/run-cli.js'
import { ROOT } from '../helpers/start-service.js'

const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }
const NOW = new Date('2026-11-28T12:00:00.000Z')

/** The real bin, never rejecting (test/helpers/run-cli.ts). */
const servekit = (cwd: string, ...args: string[]) => runCli(args, { cwd })

const optionsFor = (model: string, extra: Partial<InitOptions> = {}): InitOptions => ({
  dir: '/nowhere/fraud-scoring',
  name: 'fraud-scoring',
  team: 'risk',
  model,
  modelId: TEMPLATES.find((t) => t.name === model)!.modelId,
  org: 'acme',
  servekit: `^${version}`,
  ...extra,
})

/** The planned files of a template, by output path. */
async function plan(model: string, extra: Partial<InitOptions> = {}): Promise<Map<string, PlannedFile>> {
  const options = optionsFor(model, extra)
  const files = await planFiles(options, tokensFor(options, NOW))
  return new Map(files.map((f) => [f.path, f]))
}

const text = (files: Map<string, PlannedFile>, path: string): string => {
  const file = files.get(path)
  if (file === undefined) throw new Error(`no ${path} among ${[...files.keys()].join(', ')}`)
  return file.content.toString()
}

let scratch: string
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'servekit-init-'))
})
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true })
})

describe('templates', () => {
  it('has one folder per row of the table, plus base, and --list-templates prints the table', async () => {
    const folders = (await readdir(TEMPLATES_DIR, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name)
    expect(folders.sort()).toEqual([BASE_TEMPLATE, ...TEMPLATES.map((t) => t.name)].sort())
    const { code, stdout } = await servekit(scratch, 'init', '--list-templates')
    expect(code).toBe(0)
    expect(stdout).toBe(formatTemplateList())
    for (const t of TEMPLATES) expect(stdout).toMatch(new RegExp(`^${t.name}\\s+${t.description.slice(0, 20).replace(/[()]/g, '\\$&')}`, 'm'))
    expect(await readdir(scratch)).toEqual([])
  })

  it('uses only known placeholders, and every placeholder somewhere', async () => {
    const tokens = tokensFor(optionsFor('custom'), NOW)
    const used = new Set<string>()
    for (const folder of [BASE_TEMPLATE, ...TEMPLATES.map((t) => t.name)]) {
      for (const rel of await listFiles(join(TEMPLATES_DIR, folder))) {
        if (isBinary(rel)) continue
        const content = await readFile(join(TEMPLATES_DIR, folder, rel), 'utf8')
        for (const token of tokensIn(content)) {
          expect(Object.keys(tokens), `${folder}/${rel} uses {{${token}}}`).toContain(token)
          used.add(token)
        }
        // package.json is edited as JSON, never through placeholders.
        if (rel === 'package.json') expect(tokensIn(content)).toEqual([])
      }
    }
    expect([...used].sort()).toEqual(Object.keys(tokens).sort())
  })

  it('replaces placeholders by lookup, leaves ${{ }} alone, and refuses an unknown one', () => {
    expect(renderText('name: {{name}} sha: ${{ github.sha }} ${{x}}', { name: 'svc' }, 'f')).toBe('name: svc sha: ${{ github.sha }} ${{x}}')
    expect(() => renderText('{{nope}}', { name: 'svc' }, 'base/x.md')).toThrow('template base/x.md: unknown placeholder {{nope}}')
  })

  it('renames dotfiles and the model segment on copy', () => {
    expect(outputPath('_gitignore', 'm')).toBe('.gitignore')
    expect(outputPath('_github/workflows/ci.yml', 'm')).toBe('.github/workflows/ci.yml')
    expect(outputPath('models/__model__/1/model.json', 'churn')).toBe('models/churn/1/model.json')
    expect(outputPath('src/models/__model__.ts', 'churn.v2')).toBe('src/models/churn.v2.ts')
    expect(outputPath('testdata/__model__.json', 'churn')).toBe('testdata/churn.json')
    expect(outputPath('src/_private.ts', 'm')).toBe('src/_private.ts')
  })

  it('ships the model files of the committed fixtures, byte for byte', async () => {
    expect((await plan('xgboost')).get('models/tumor/1/model.ubj')?.content).toEqual(await readFile(join(ROOT, 'test/fixtures/xgboost/binary_logistic.ubj')))
    expect((await plan('onnx')).get('models/tumor/1/model.onnx')?.content).toEqual(await readFile(join(ROOT, 'test/fixtures/onnx/mlp.onnx')))
  })
})

describe.each(TEMPLATES.map((t) => t.name))('the %s repository', (model) => {
  let files: Map<string, PlannedFile>
  const modelId = TEMPLATES.find((t) => t.name === model)!.modelId
  beforeAll(async () => {
    files = await plan(model)
  })

  it('has every part of a service, and no placeholder left', () => {
    const paths = [...files.keys()]
    for (const path of [
      'package.json', 'tsconfig.json', 'vitest.config.ts', 'servekit.config.ts', 'README.md', 'CODEOWNERS',
      '.gitignore', '.npmrc', '.dockerignore', 'Dockerfile', '.github/workflows/ci.yml', 'test/service.test.ts',
      `testdata/${modelId}.json`, `models/${modelId}/1/model.json`,
      'deploy/deployment.yaml', 'deploy/service.yaml', 'deploy/hpa.yaml', 'deploy/pdb.yaml', 'deploy/kustomization.yaml',
    ]) {
      expect(paths).toContain(path)
    }
    if (model === 'custom') expect(paths).toContain(`src/models/${modelId}.ts`)
    expect(paths.filter((p) => p.includes('__model__') || /(^|\/)_/.test(p))).toEqual([])
    for (const f of files.values()) {
      if (typeof f.content === 'string') expect(f.content.match(TOKEN_PATTERN), f.path).toBeNull()
    }
  })

  it('has a package.json edited as data: name, servekit range, servekit test in npm test', () => {
    const pkg = JSON.parse(text(files, 'package.json'))
    expect(pkg.name).toBe('fraud-scoring')
    expect(pkg.private).toBe(true)
    expect(pkg.type).toBe('module')
    expect(pkg.description).toContain('team risk')
    expect(pkg.dependencies.servekit).toBe(`^${version}`)
    expect(pkg.scripts.test).toBe('servekit test && vitest run')
    expect(pkg.scripts['test:update']).toBe('servekit test --update')
    expect(Object.keys(pkg.devDependencies)).toEqual(['@types/node', 'typescript', 'vitest'])
    if (model === 'custom') expect(pkg.dependencies.zod).toMatch(/^\^4\./)
    // onnxruntime-node's install script would download GPU libraries: skipped for npm 10/11 (.npmrc)
    // and npm 11.16+ (allowScripts), and esbuild's (tsx) allowed, so npm lists no unreviewed script.
    expect(text(files, '.npmrc')).toMatch(/^onnxruntime-node-install=skip$/m)
    expect(pkg.allowScripts).toEqual({ esbuild: true, 'onnxruntime-node': false })
  })

  it('configures the sample model, with stored expectations for it', () => {
    const config = text(files, 'servekit.config.ts')
    expect(config).toContain(`'${modelId}': {`)
    if (model === 'custom') expect(config).toContain(`module: './src/models/${modelId}.ts'`)
    else expect(config).toContain(`framework: '${model}'`)
    const stored = JSON.parse(text(files, `testdata/${modelId}.json`))
    expect(stored).toMatchObject({ model_id: modelId, model_version: '1', updated_at: NOW.toISOString() })
    expect(stored.cases.length).toBeGreaterThan(0)
    for (const c of stored.cases) expect(Object.keys(c).sort()).toEqual(['expected', 'features', 'name'])
  })

  it('names the team in CODEOWNERS and the service in README', () => {
    expect(text(files, 'CODEOWNERS')).toMatch(/^\* @acme\/risk$/m)
    const readme = text(files, 'README.md')
    expect(readme).toMatch(/^# fraud-scoring$/m)
    for (const section of ['## Develop', '## Test', '## Add a model', '## Publish a model version', '## Deploy']) expect(readme).toContain(section)
    expect(readme).toContain(`"model_id": "${modelId}"`)
  })

  it('runs install, servekit test and the tests in CI (GitHub Actions)', () => {
    const ci = parseYaml(text(files, '.github/workflows/ci.yml'))
    expect(Object.keys(ci.on)).toEqual(['push', 'pull_request'])
    const runs: string[] = ci.jobs.test.steps.filter((s: { run?: string }) => s.run).map((s: { run: string }) => s.run)
    expect(runs).toEqual(['npm ci', 'npm run typecheck', 'npx servekit test', 'npx vitest run'])
    expect(ci.jobs.test.steps.find((s: { uses?: string }) => s.uses?.startsWith('actions/setup-node'))?.with['node-version']).toBe(20)
    expect(ci.jobs.image.steps.at(-1).run).toBe('docker build -t fraud-scoring:${{ github.sha }} .')
  })

  it('has a multi-stage Dockerfile: npm ci --omit=dev, non-root, HEALTHCHECK on /health, node as the main process', () => {
    const lines = text(files, 'Dockerfile').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'))
    const instructions = lines.filter((l) => /^[A-Z]+ /.test(l)).map((l) => l.split(' ')[0])
    expect(lines.filter((l) => l.startsWith('FROM '))).toEqual(['FROM node:20-slim AS deps', 'FROM node:20-slim AS runtime'])
    const [deps, runtime] = text(files, 'Dockerfile').split('FROM node:20-slim AS runtime')
    expect(deps).toMatch(/^RUN npm ci --omit=dev\b/m)
    expect(deps).toMatch(/^COPY package\.json package-lock\.json \.npmrc \.\/$/m)
    expect(runtime).toMatch(/^COPY --from=deps \/app\/node_modules \.\/node_modules$/m)
    expect(runtime).not.toMatch(/^RUN npm/m)
    expect(runtime).toMatch(/^USER node$/m)
    // USER comes before the command, so the service never runs as root.
    expect(instructions.lastIndexOf('USER')).toBeLessThan(instructions.lastIndexOf('CMD'))
    const healthcheck = /^HEALTHCHECK .*\\\n\s+CMD (\[.*\])$/m.exec(text(files, 'Dockerfile'))
    expect(healthcheck).not.toBeNull()
    const probe = JSON.parse(healthcheck![1]!) as string[]
    expect(probe.slice(0, 2)).toEqual(['node', '-e'])
    expect(probe[2]).toContain("fetch('http://127.0.0.1:8080/health')")
    expect(runtime).toMatch(/^STOPSIGNAL SIGTERM$/m)
    expect(lines.at(-1)).toBe('CMD ["node", "node_modules/servekit/bin/servekit.js", "serve"]')
    expect(runtime).toMatch(/^EXPOSE 8080$/m)
    const ignored = text(files, '.dockerignore').split('\n')
    for (const entry of ['node_modules', '.git', 'test', 'deploy']) expect(ignored).toContain(entry)
    for (const kept of ['models', 'src', 'servekit.config.ts', 'package.json', '.npmrc']) expect(ignored).not.toContain(kept)
  })
})

// --- Kubernetes: a schema of the fields used (strict: a misspelt or misplaced key fails), then the values. ---

const dnsLabel = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/).max(63)
const quantity = z.string().regex(/^\d+(\.\d+)?(m|Ki|Mi|Gi|k|M|G)?$/)
const stringMap = z.record(z.string(), z.string())
const objectMeta = z.object({ name: dnsLabel, labels: stringMap, annotations: stringMap.optional() }).strict()
const labelSelector = z.object({ matchLabels: stringMap }).strict()
const portRef = z.union([z.string(), z.number().int()])
const int = z.number().int()
const probe = z
  .object({
    httpGet: z.object({ path: z.string().startsWith('/'), port: portRef }).strict(),
    initialDelaySeconds: int.optional(),
    periodSeconds: int.optional(),
    timeoutSeconds: int.optional(),
    failureThreshold: int.optional(),
    successThreshold: int.optional(),
  })
  .strict()
const resources = z.object({ requests: z.object({ cpu: quantity, memory: quantity }).strict(), limits: z.object({ cpu: quantity, memory: quantity }).strict() }).strict()
const container = z
  .object({
    name: dnsLabel,
    image: z.string(),
    imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).optional(),
    args: z.array(z.string()).optional(),
    ports: z.array(z.object({ name: z.string().max(15), containerPort: int, protocol: z.enum(['TCP', 'UDP', 'SCTP']).optional() }).strict()),
    env: z.array(z.object({ name: z.string(), value: z.string() }).strict()).optional(),
    startupProbe: probe.optional(),
    readinessProbe: probe,
    livenessProbe: probe,
    resources,
    lifecycle: z.object({ preStop: z.object({ exec: z.object({ command: z.array(z.string()) }).strict() }).strict() }).strict(),
    securityContext: z
      .object({ allowPrivilegeEscalation: z.boolean(), readOnlyRootFilesystem: z.boolean(), capabilities: z.object({ drop: z.array(z.string()) }).strict() })
      .strict()
      .optional(),
    volumeMounts: z.array(z.object({ name: z.string(), mountPath: z.string() }).strict()).optional(),
  })
  .strict()
const deploymentSchema = z
  .object({
    apiVersion: z.literal('apps/v1'),
    kind: z.literal('Deployment'),
    metadata: objectMeta,
    spec: z
      .object({
        revisionHistoryLimit: int.optional(),
        selector: labelSelector,
        strategy: z.object({ type: z.literal('RollingUpdate'), rollingUpdate: z.object({ maxSurge: portRef, maxUnavailable: portRef }).strict() }).strict(),
        template: z
          .object({
            metadata: z.object({ labels: stringMap, annotations: stringMap }).strict(),
            spec: z
              .object({
                terminationGracePeriodSeconds: int,
                securityContext: z
                  .object({ runAsNonRoot: z.literal(true), runAsUser: int, runAsGroup: int, seccompProfile: z.object({ type: z.string() }).strict() })
                  .strict(),
                containers: z.array(container).length(1),
                volumes: z.array(z.object({ name: z.string(), emptyDir: z.object({}).strict() }).strict()).optional(),
              })
              .strict(),
          })
          .strict(),
      })
      .strict(),
  })
  .strict()
const serviceSchema = z
  .object({
    apiVersion: z.literal('v1'),
    kind: z.literal('Service'),
    metadata: objectMeta,
    spec: z
      .object({
        type: z.literal('ClusterIP'),
        selector: stringMap,
        ports: z.array(z.object({ name: z.string(), port: int, targetPort: portRef, protocol: z.literal('TCP') }).strict()).min(1),
      })
      .strict(),
  })
  .strict()
const hpaSchema = z
  .object({
    apiVersion: z.literal('autoscaling/v2'),
    kind: z.literal('HorizontalPodAutoscaler'),
    metadata: objectMeta,
    spec: z
      .object({
        scaleTargetRef: z.object({ apiVersion: z.string(), kind: z.string(), name: z.string() }).strict(),
        minReplicas: int.min(1),
        maxReplicas: int,
        metrics: z
          .array(
            z
              .object({
                type: z.literal('Resource'),
                resource: z.object({ name: z.enum(['cpu', 'memory']), target: z.object({ type: z.literal('Utilization'), averageUtilization: int.min(1).max(100) }).strict() }).strict(),
              })
              .strict(),
          )
          .min(1),
        behavior: z.object({ scaleDown: z.object({ stabilizationWindowSeconds: int }).strict() }).strict().optional(),
      })
      .strict(),
  })
  .strict()
const pdbSchema = z
  .object({
    apiVersion: z.literal('policy/v1'),
    kind: z.literal('PodDisruptionBudget'),
    metadata: objectMeta,
    spec: z.object({ minAvailable: portRef, selector: labelSelector }).strict(),
  })
  .strict()

/** Parses one manifest: exactly one YAML document, without parse errors. */
function manifest(files: Map<string, PlannedFile>, path: string): unknown {
  const docs = parseAllDocuments(text(files, path))
  expect(docs).toHaveLength(1)
  const doc = docs[0]!
  expect(doc.errors).toEqual([])
  return doc.toJS()
}

describe('Kubernetes manifests (deploy/)', () => {
  let files: Map<string, PlannedFile>
  beforeAll(async () => {
    files = await plan('custom', { name: 'fraud-scoring', team: 'risk' })
  })

  it('parse as YAML and match the schema of their kinds', () => {
    deploymentSchema.parse(manifest(files, 'deploy/deployment.yaml'))
    serviceSchema.parse(manifest(files, 'deploy/service.yaml'))
    hpaSchema.parse(manifest(files, 'deploy/hpa.yaml'))
    pdbSchema.parse(manifest(files, 'deploy/pdb.yaml'))
    const kustomization = manifest(files, 'deploy/kustomization.yaml') as { kind: string; resources: string[]; images: { name: string; newName: string }[] }
    expect(kustomization.kind).toBe('Kustomization')
    expect(kustomization.resources.sort()).toEqual([...files.keys()].filter((p) => p.startsWith('deploy/') && !p.endsWith('kustomization.yaml')).map((p) => p.slice('deploy/'.length)).sort())
    expect(kustomization.images).toEqual([{ name: 'fraud-scoring', newName: 'ghcr.io/acme/fraud-scoring', newTag: '0.1.0' }])
  })

  it('name every object after --name and label it with app and team', () => {
    for (const path of ['deploy/deployment.yaml', 'deploy/service.yaml', 'deploy/hpa.yaml', 'deploy/pdb.yaml']) {
      const m = manifest(files, path) as { metadata: { name: string; labels: Record<string, string> } }
      expect(m.metadata.name, path).toBe('fraud-scoring')
      expect(m.metadata.labels, path).toMatchObject({ app: 'fraud-scoring', team: 'risk', 'app.kubernetes.io/name': 'fraud-scoring' })
    }
  })

  it('run the service with probes, resources, draining and Prometheus annotations', () => {
    const d = deploymentSchema.parse(manifest(files, 'deploy/deployment.yaml'))
    const pod = d.spec.template
    const c = pod.spec.containers[0]!
    // The selector picks the pods the template makes.
    expect(pod.metadata.labels).toMatchObject(d.spec.selector.matchLabels)
    expect(pod.metadata.labels).toMatchObject({ app: 'fraud-scoring', team: 'risk' })
    expect(c.image).toBe('fraud-scoring') // kustomization.yaml points it at the registry
    expect(c.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }])
    expect(c.readinessProbe.httpGet).toEqual({ path: '/ready', port: 'http' })
    expect(c.livenessProbe.httpGet).toEqual({ path: '/health', port: 'http' })
    expect(c.startupProbe?.httpGet).toEqual({ path: '/health', port: 'http' })
    expect(c.resources.requests).toEqual({ cpu: '1', memory: '512Mi' })
    expect(c.resources.limits).toEqual({ cpu: '2', memory: '1Gi' })
    // One worker per CPU of the limit.
    expect(c.args).toEqual(['node', 'node_modules/servekit/bin/servekit.js', 'serve', '--workers', c.resources.limits.cpu])
    expect(pod.metadata.annotations).toEqual({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080', 'prometheus.io/path': '/metrics' })
    expect(pod.spec.securityContext.runAsUser).toBe(1000) // the node user of node:20-slim
    expect(c.securityContext?.allowPrivilegeEscalation).toBe(false)
    // Draining: the preStop sleep, then servekit's shutdownTimeoutMs, both within the grace period.
    expect(c.lifecycle.preStop.exec.command.slice(0, 1)).toEqual(['sleep'])
    const preStopSeconds = Number(c.lifecycle.preStop.exec.command[1])
    const shutdownMs = Number(/shutdownTimeoutMs: ([\d_]+)/.exec(text(files, 'servekit.config.ts'))![1]!.replaceAll('_', ''))
    expect(shutdownMs).toBe(25_000)
    expect(pod.spec.terminationGracePeriodSeconds).toBeGreaterThan(shutdownMs / 1000)
    expect(pod.spec.terminationGracePeriodSeconds).toBeGreaterThan(preStopSeconds + shutdownMs / 1000)
    // The HPA owns the replica count.
    expect(d.spec).not.toHaveProperty('replicas')
  })

  it('point the Service, HPA and PDB at the Deployment and its pods', () => {
    const d = deploymentSchema.parse(manifest(files, 'deploy/deployment.yaml'))
    const s = serviceSchema.parse(manifest(files, 'deploy/service.yaml'))
    const hpa = hpaSchema.parse(manifest(files, 'deploy/hpa.yaml'))
    const pdb = pdbSchema.parse(manifest(files, 'deploy/pdb.yaml'))
    const podLabels = d.spec.template.metadata.labels
    expect(podLabels).toMatchObject(s.spec.selector)
    expect(s.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }])
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: d.apiVersion, kind: d.kind, name: d.metadata.name })
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2)
    expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas)
    expect(pdb.spec.selector.matchLabels).toEqual(d.spec.selector.matchLabels)
    expect(podLabels).toMatchObject(pdb.spec.selector.matchLabels)
    expect(pdb.spec.minAvailable).toBeLessThan(hpa.spec.minReplicas)
  })
})

describe('servekit init (the command)', () => {
  it('writes the repository into a new directory, with a summary and next steps', async () => {
    const { code, stdout, stderr } = await servekit(scratch, 'init', 'svc-a', '--name', 'svc-a', '--team', 'risk', '--model', 'xgboost', '--org', 'acme')
    expect(stderr).toBe('')
    expect(code).toBe(0)
    expect(stdout).toMatch(/^Created svc-a \(team risk, template xgboost, model tumor\) in svc-a: \d+ files$/m)
    expect(stdout).toContain('  cd svc-a\n')
    expect(stdout).not.toContain(PLACEHOLDER_ORG)
    const written = await listFiles(join(scratch, 'svc-a'))
    expect(written).toEqual([...(await plan('xgboost', { name: 'svc-a' })).keys()].sort())
    expect(await readFile(join(scratch, 'svc-a/CODEOWNERS'), 'utf8')).toContain('* @acme/risk')
  })

  it('defaults the directory to ./<name> and servekit to ^<this version>; --servekit takes a local tarball as file:', async () => {
    const tarball = join(scratch, 'servekit-x.tgz')
    await writeFile(tarball, 'not really a tarball')
    const { code } = await servekit(scratch, 'init', '--name', 'svc-b', '--team', 'risk', '--servekit', './servekit-x.tgz')
    expect(code).toBe(0)
    const pkg = JSON.parse(await readFile(join(scratch, 'svc-b/package.json'), 'utf8'))
    expect(pkg.dependencies.servekit).toBe(`file:${tarball}`)
    expect(await readFile(join(scratch, 'svc-b/servekit.config.ts'), 'utf8')).toContain("module: './src/models/churn.ts'")

    const ranged = await servekit(scratch, 'init', '--name', 'svc-c', '--team', 'risk', '--dry-run')
    expect(ranged.code).toBe(0)
    expect(ranged.stdout).toMatch(/^Dry run: would create svc-c/)
    expect(ranged.stdout).toContain('Nothing written (--dry-run).')
    expect(ranged.stdout).toContain(`Note: CODEOWNERS and deploy/kustomization.yaml name the GitHub organisation "${PLACEHOLDER_ORG}"`)
    await expect(readdir(join(scratch, 'svc-c'))).rejects.toThrow(/ENOENT/)
  })

  it('refuses a non-empty directory with a clear error, and writes nothing', async () => {
    const dir = join(scratch, 'taken')
    await mkdir(dir)
    await writeFile(join(dir, 'notes.txt'), 'mine')
    const { code, stdout, stderr } = await servekit(scratch, 'init', 'taken', '--name', 'taken', '--team', 'risk')
    expect(code).toBe(1)
    expect(stdout).toBe('')
    expect(stderr).toBe(`servekit init: ${dir} is not empty (1 entry: notes.txt): init writes only into a new or empty directory (nothing written)\n`)
    expect(await readdir(dir)).toEqual(['notes.txt'])
    expect(await readFile(join(dir, 'notes.txt'), 'utf8')).toBe('mine')
  })

  it('refuses a file as the target', async () => {
    await writeFile(join(scratch, 'a-file'), '')
    const { code, stderr } = await servekit(scratch, 'init', 'a-file', '--name', 'a-file', '--team', 'risk')
    expect(code).toBe(1)
    expect(stderr).toContain('a-file exists and is not a directory (nothing written)')
  })

  it('refuses --name "../x" with a clear error and exit code 1, writing nothing', async () => {
    const before = await readdir(scratch)
    const { code, stdout, stderr } = await servekit(scratch, 'init', '--name', '../x', '--team', 'risk')
    expect(code).toBe(1)
    expect(stdout).toBe('')
    expect(stderr).toBe(
      'servekit init: --name "../x" is not a valid service name: use 1-63 lowercase letters, digits and "-", starting and ending with a letter or digit (it names the npm package, the image and the Kubernetes objects)\n',
    )
    expect(await readdir(scratch)).toEqual(before)
  })

  it.each([
    ['--name', 'Fraud', '--name "Fraud" is not a valid service name'],
    ['--name', 'fraud_scoring', '--name "fraud_scoring" is not a valid service name'],
    ['--name', '-fraud', '--name "-fraud" is not a valid service name'],
    ['--name', 'a'.repeat(64), `--name "${'a'.repeat(64)}" is not a valid service name`],
    ['--team', 'Risk Team', '--team "Risk Team" is not a valid team name: use 1-63 lowercase letters'],
    ['--team', '../../etc', '--team "../../etc" is not a valid team name'],
    ['--model', 'pytorch', '--model "pytorch" is not a template: choose one of custom, xgboost, onnx (servekit init --list-templates)'],
    ['--model-id', '../m', '--model-id "../m" is not a valid model id'],
    ['--org', 'a/b', '--org "a/b" is not a GitHub organisation name'],
  ])('refuses %s %j, writing nothing', async (flag, value, message) => {
    const before = await readdir(scratch)
    const key = { '--name': 'name', '--team': 'team', '--model': 'model', '--model-id': 'modelId', '--org': 'org' }[flag]!
    const flags = { dir: 'bad-target', name: 'ok-name', team: 'risk', [key]: value }
    const deps = { interactive: false, cwd: scratch, version, say: () => {} }
    const error = await runInit(flags, deps).catch((err: unknown) => err)
    expect(error).toBeInstanceOf(InitError)
    expect((error as Error).message).toContain(message)
    expect(await readdir(scratch)).toEqual(before)
  })

  it('accepts a 63-character name', async () => {
    const { code } = await servekit(scratch, 'init', '--name', 'a'.repeat(63), '--team', 'risk', '--dry-run')
    expect(code).toBe(0)
  })

  it('does not prompt without a terminal: missing flags are an error naming them', async () => {
    const before = await readdir(scratch)
    const none = await servekit(scratch, 'init', 'svc-d')
    expect(none.code).toBe(1)
    expect(none.stderr).toBe('servekit init: missing --name and --team: stdin is not a terminal, so init does not ask; pass --name and --team\n')
    const noName = await servekit(scratch, 'init', 'svc-d', '--team', 'risk')
    expect(noName.stderr).toBe('servekit init: missing --name: stdin is not a terminal, so init does not ask; pass --name, or --yes to take the defaults\n')
    expect(await readdir(scratch)).toEqual(before)
    // --yes: the name from the directory, the custom template.
    const yes = await servekit(scratch, 'init', 'svc-d', '--team', 'risk', '--yes', '--dry-run')
    expect(yes.code).toBe(0)
    expect(yes.stdout).toMatch(/^Dry run: would create svc-d \(team risk, template custom, model churn\)/)
    const yesNoTeam = await servekit(scratch, 'init', 'svc-d', '--yes')
    expect(yesNoTeam.stderr).toBe('servekit init: missing --team: stdin is not a terminal, so init does not ask; pass --team\n')
  })

  it('refuses a --servekit path that does not exist', async () => {
    const { code, stderr } = await servekit(scratch, 'init', '--name', 'svc-e', '--team', 'risk', '--servekit', 'file:../no-such-checkout')
    expect(code).toBe(1)
    expect(stderr).toContain(`servekit init: --servekit "file:../no-such-checkout": ${join(scratch, '..', 'no-such-checkout')} does not exist`)
  })

  it('is listed in servekit --help', async () => {
    const { stdout } = await servekit(scratch, '--help')
    expect(stdout).toMatch(/init \[options\] \[dir\]\s+Create a service repository/)
    const help = await servekit(scratch, 'init', '--help')
    for (const flag of ['--name', '--team', '--model', '--model-id', '--org', '--servekit', '--yes', '--dry-run', '--list-templates']) expect(help.stdout).toContain(flag)
  })
})

describe('prompts (an injected prompt function)', () => {
  const deps = { interactive: true, version, now: NOW, say: () => {} }

  /** A prompt that answers from a script and records the questions. */
  function scripted(answers: Record<string, string[]>): { prompt: (q: Question) => Promise<string>; asked: Question[] } {
    const asked: Question[] = []
    return {
      asked,
      prompt: async (q) => {
        asked.push(q)
        const next = answers[q.key]?.shift()
        if (next === undefined) throw new Error(`unexpected question ${q.key}`)
        return next
      },
    }
  }

  it('asks for what the flags do not give, with defaults', async () => {
    const { prompt, asked } = scripted({ name: [''], team: ['ml-platform'], model: ['onnx'], org: [''] })
    const result = await runInit({ dir: 'churn-svc', dryRun: true }, { ...deps, prompt, cwd: scratch })
    expect(asked.map((q) => q.key)).toEqual(['name', 'team', 'model', 'org'])
    expect(asked[0]?.default).toBe('churn-svc') // from the directory name
    expect(asked[2]?.choices).toEqual(TEMPLATES.map((t) => t.name))
    expect(result.options).toMatchObject({ name: 'churn-svc', team: 'ml-platform', model: 'onnx', modelId: 'tumor', org: PLACEHOLDER_ORG, dir: join(scratch, 'churn-svc') })
    expect(result.written).toBe(false)
    expect(formatSummary(result, scratch)).toMatch(/^Dry run: would create churn-svc \(team ml-platform, template onnx, model tumor\) in churn-svc/)
  })

  it('asks again after an invalid answer, saying why', async () => {
    const said: string[] = []
    const { prompt } = scripted({ name: ['../x', 'Fraud', 'fraud'], model: ['custom'], org: ['acme'] })
    const result = await runInit({ team: 'risk', dryRun: true }, { ...deps, prompt, cwd: scratch, say: (l) => said.push(l) })
    expect(result.options.name).toBe('fraud')
    expect(said).toEqual([expect.stringContaining('--name "../x" is not a valid service name'), expect.stringContaining('--name "Fraud" is not a valid service name')])
  })

  it('gives up after three invalid answers', async () => {
    const { prompt } = scripted({ name: ['../x', '../y', '../z'] })
    await expect(runInit({ team: 'risk', dryRun: true }, { ...deps, prompt, cwd: scratch })).rejects.toThrow('no valid name after 3 attempts')
  })

  it('does not ask with --yes, nor for flags given; a bad flag fails before any question', async () => {
    const { prompt, asked } = scripted({})
    const result = await runInit({ dir: 'svc-y', team: 'risk', yes: true, dryRun: true }, { ...deps, prompt, cwd: scratch })
    expect(asked).toEqual([])
    expect(result.options).toMatchObject({ name: 'svc-y', model: 'custom', org: PLACEHOLDER_ORG })
    await expect(runInit({ name: '../x' }, { ...deps, prompt, cwd: scratch })).rejects.toThrow('--name "../x" is not a valid service name')
    expect(asked).toEqual([])
  })

  it('checks a given directory before asking anything', async () => {
    const dir = join(scratch, 'occupied')
    await mkdir(dir)
    await writeFile(join(dir, 'x'), '')
    const { prompt, asked } = scripted({})
    await expect(runInit({ dir: 'occupied' }, { ...deps, prompt, cwd: scratch })).rejects.toThrow('is not empty')
    expect(asked).toEqual([])
  })
})
