import { fileURLToPath } from 'node:url'

/**
 * The templates `servekit init` can generate, as data. Each row is a folder `templates/<name>/`
 * laid over `templates/base/` (what every service has: Dockerfile, deploy/, CI, README, tests).
 * Adding a template = adding a folder and a row here; see templates/README.md.
 */
export interface TemplateInfo {
  /** The folder under templates/ and the value of `--model`. */
  readonly name: string
  /** One line for `servekit init --list-templates` and the prompt. */
  readonly description: string
  /** The sample model's id (`--model-id` overrides it): the key in servekit.config.ts, `models/<id>/`, `testdata/<id>.json`. */
  readonly modelId: string
  /** Features of one example request, shown in the generated README. */
  readonly exampleFeatures: unknown
}

/** Same dir from `src/cli/init/` (tsx, tests) and `dist/cli/init/` (the published bin). */
export const TEMPLATES_DIR = fileURLToPath(new URL('../../../templates/', import.meta.url))

/** The folder every template is laid over. */
export const BASE_TEMPLATE = 'base'

const TUMOR_FEATURES = [17.99, 10.38, 122.8, 1001, 0.1184, 0.2776, 0.3001, 0.1471, 0.2419, 0.07871, 1.095, 0.9053, 8.589, 153.4, 0.006399, 0.04904, 0.05373, 0.01587, 0.03003, 0.006193, 25.38, 17.33, 184.6, 2019, 0.1622, 0.6656, 0.7119, 0.2654, 0.4601, 0.1189]

export const TEMPLATES: readonly TemplateInfo[] = [
  {
    name: 'custom',
    description: 'a model class in TypeScript: logistic regression, coefficients in the artifact, zod input schema, testData',
    modelId: 'churn',
    exampleFeatures: { tenure_months: 2, monthly_charges: 95, support_calls: 4 },
  },
  {
    name: 'xgboost',
    description: "an XGBoost model (model.ubj) served by the built-in class (framework: 'xgboost'), no model code",
    modelId: 'tumor',
    exampleFeatures: TUMOR_FEATURES,
  },
  {
    name: 'onnx',
    description: "an ONNX model (PyTorch MLP) served by the built-in class (framework: 'onnx', onnxruntime-node), no model code",
    modelId: 'tumor',
    exampleFeatures: TUMOR_FEATURES,
  },
]

export const DEFAULT_TEMPLATE = 'custom'

export function findTemplate(name: string): TemplateInfo | undefined {
  return TEMPLATES.find((t) => t.name === name)
}

/** The `--list-templates` output: one template a line, name then description. */
export function formatTemplateList(templates: readonly TemplateInfo[] = TEMPLATES): string {
  const width = Math.max(...templates.map((t) => t.name.length))
  return templates.map((t) => `${t.name.padEnd(width)}  ${t.description}${t.name === DEFAULT_TEMPLATE ? ' (default)' : ''}`).join('\n') + '\n'
}
