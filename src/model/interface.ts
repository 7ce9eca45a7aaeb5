import type { StandardSchemaV1 } from '@standard-schema/spec'
import type { Manifest } from '../store/manifest.js'

/**
 * One model version's files, as `load` sees them: a local directory plus its parsed `model.json`.
 * Paths given to the helpers are relative to the directory and may not leave it.
 */
export interface Artifact {
  /** Model name in the store, e.g. `churn`. */
  readonly name: string
  /** Version directory name, e.g. `3`. */
  readonly version: string
  /** Absolute path of the version directory. */
  readonly dir: string
  /** The parsed `model.json` (an empty manifest when the file is absent). */
  readonly manifest: Manifest
  /** Absolute path of a file inside the artifact. Throws on `..` or absolute paths. */
  path(file: string): string
  readText(file: string): Promise<string>
  readBytes(file: string): Promise<Uint8Array>
  readJson<T = unknown>(file: string): Promise<T>
}

/** What `load` gets besides the artifact. */
export interface LoadContext {
  /** The model's `options` from `servekit.config.ts` (framework settings, feature order, …). */
  readonly options: Readonly<Record<string, unknown>>
}

/** What `predict` gets besides the features. */
export interface PredictContext {
  /** The request's optional `parameters` object (e.g. `{ "output_margin": true }`). */
  readonly parameters: Readonly<Record<string, unknown>>
  /** Aborted when the client goes away or the prediction times out; long work may stop early. */
  readonly signal: AbortSignal
}

/** How close a float must be to its expected value: |got - want| <= absolute + relative * |want|. */
export interface Tolerance {
  absolute?: number
  relative?: number
}

/** One self-test case: features in, the output the model must give. */
export interface TestCase<F = unknown, O = unknown> {
  /** Shown in reports; defaults to the case's index. */
  name?: string
  features: F
  expected: O
  tolerance?: Tolerance
}

type MaybePromise<T> = T | Promise<T>

/**
 * A model class: how to load one artifact and predict with it.
 *
 * `load` returns the loaded model (any value: weights, a session, a closure); servekit keeps one per
 * version and passes it back to `predict`, so a new version never shares state with the old one.
 *
 * - `F`: the features one prediction takes (inferred from `inputSchema` when given).
 * - `M`: the loaded model, whatever `load` returns.
 * - `O`: the output; it must be JSON-serialisable.
 * - `I`: the features as clients send them, before `inputSchema` applies defaults and transforms.
 */
export interface ModelClass<F = unknown, M = unknown, O = unknown, I = F> {
  /**
   * Checks (and may transform) the features before `predict`. Any Standard Schema works
   * (zod, valibot, arktype). A failure is the client's error: 400 `invalid_request`.
   */
  inputSchema?: StandardSchemaV1<I, F>
  /** Reads the artifact and prepares everything `predict` needs. Runs once per version. */
  load(artifact: Artifact, context: LoadContext): MaybePromise<M>
  /** One prediction. Keep it free of I/O: it runs on the request path. */
  predict(model: M, features: NoInfer<F>, context: PredictContext): MaybePromise<O>
  /** Many predictions at once, outputs in input order. Used by the batch endpoint and batching. */
  predictBatch?(model: M, features: NoInfer<F>[], context: PredictContext): MaybePromise<NoInfer<O>[]>
  /**
   * Self-test cases, run after every load through the same path as requests. A function may read
   * them from the artifact (e.g. `artifact.readJson('testdata.json')`).
   */
  testData?: readonly TestCase<NoInfer<I>, NoInfer<O>>[] | ((artifact: Artifact, model: M) => MaybePromise<readonly TestCase<NoInfer<I>, NoInfer<O>>[]>)
  /** Default tolerance for float comparisons in self-tests. */
  tolerance?: Tolerance
  /** Frees what `load` took (native sessions, file handles). Runs after the version drains. */
  unload?(model: M): MaybePromise<void>
}

/** A model class with its types erased, as the registry holds it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyModelClass = ModelClass<any, any, any, any>

/**
 * Defines a model class with checked types: features come from `inputSchema`, the loaded model from
 * `load`'s return type.
 *
 * @example
 * export default defineModel({
 *   inputSchema: z.object({ x: z.number() }),
 *   async load(artifact) { return artifact.readJson<{ w: number }>('weights.json') },
 *   predict(model, features) { return model.w * features.x },
 *   testData: [{ features: { x: 2 }, expected: 1 }],
 * })
 */
export function defineModel<F = unknown, M = unknown, O = unknown, I = F>(model: ModelClass<F, M, O, I>): ModelClass<F, M, O, I> {
  return model
}
