// Builds this example's model store from the reference fixtures in test/fixtures/ (models trained
// with the real XGBoost, LightGBM and PyTorch). Run: node examples/frameworks/build-artifacts.mjs
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

const here = (p) => fileURLToPath(new URL(p, import.meta.url))
const fixture = (p) => here(`../../test/fixtures/${p}`)
const json = async (p) => JSON.parse(await readFile(fixture(p), 'utf8'))
const record = (names, values) => Object.fromEntries(names.map((n, i) => [n, values[i]]))

async function artifact(name, files, manifest, testdata) {
  const dir = here(`models/${name}/1/`)
  await rm(here(`models/${name}`), { recursive: true, force: true })
  await mkdir(dir, { recursive: true })
  for (const [from, to] of files) await copyFile(fixture(from), dir + to)
  await writeFile(dir + 'model.json', JSON.stringify({ created_at: '2026-11-28T00:00:00Z', ...manifest }, null, 2) + '\n')
  await writeFile(dir + 'testdata.json', JSON.stringify(testdata, null, 2) + '\n')
}

// XGBoost binary:logistic on breast_cancer, saved as UBJSON; features as a record by name.
const xgb = await json('xgboost/binary_logistic.rows.json')
await artifact(
  'tumor_xgboost',
  [['xgboost/binary_logistic.ubj', 'model.ubj']],
  { framework: 'xgboost', file: 'model.ubj', description: 'XGBoost 1.7.4 binary:logistic, breast cancer' },
  xgb.rows.slice(0, 4).map((r, i) => ({ name: `${r.kind}_${i}`, features: record(xgb.feature_names, r.features), expected: r.predict })),
)

// LightGBM regression on diabetes; features as an array in model order.
const lgb = await json('lightgbm/diabetes_regression.rows.json')
await artifact(
  'diabetes_lightgbm',
  [['lightgbm/diabetes_regression.model.txt', 'model.txt']],
  { framework: 'lightgbm', description: 'LightGBM regression, diabetes progression' },
  lgb.rows.slice(0, 4).map((row, i) => ({ name: `row_${i}`, features: row, expected: lgb.expected[i] })),
)

// PyTorch MLP exported to ONNX; a flat record mapped onto the input by feature_order.
const mlp = await json('onnx/mlp.rows.json')
await artifact(
  'tumor_onnx',
  [['onnx/mlp.onnx', 'model.onnx']],
  { framework: 'onnx', feature_order: xgb.feature_names, description: 'PyTorch MLP exported with torch.onnx.export' },
  mlp.rows.slice(0, 4).map((r, i) => ({ name: `row_${i}`, features: record(xgb.feature_names, r.features.input), expected: r.expected.probabilities })),
)
