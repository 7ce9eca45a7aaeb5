import { defineConfig } from 'servekit'

// The {{name}} service of team {{team}}. Every field: servekit's docs/configuration.md.
export default defineConfig({
  // Artifacts: ./models/<model id>/<version>/
  store: './models',
  models: {
    // The key is the model id clients send as "model_id".
    // An ONNX model (model.onnx) run by servekit's built-in onnx class (onnxruntime-node): no model code;
    // options.output returns the 'probabilities' output alone.
    // models/{{model_id}}/<version>/: the model file, model.json (its manifest), testdata.json (self-test cases).
    '{{model_id}}': { framework: 'onnx', options: { output: 'probabilities' } },
  },
  server: {
    port: 8080,
    // After SIGTERM, in-flight requests get this long. Keep it below Kubernetes'
    // terminationGracePeriodSeconds minus the preStop sleep (deploy/deployment.yaml: 40 - 5).
    shutdownTimeoutMs: 25_000,
  },
})
