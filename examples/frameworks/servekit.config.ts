import { defineConfig } from 'servekit'

// Three built-in model classes, no model code: the artifact's model.json names the framework.
export default defineConfig({
  models: {
    tumor_xgboost: {},
    diabetes_lightgbm: {},
    tumor_onnx: { options: { output: 'probabilities' } },
  },
  server: { port: 8080 },
})
