import { defineConfig } from 'servekit'

// The {{name}} service of team {{team}}. Every field: servekit's docs/configuration.md.
export default defineConfig({
  // Artifacts: ./models/<model id>/<version>/
  store: './models',
  models: {
    // The key is the model id clients send as "model_id"; the module's default export is its model class.
    '{{model_id}}': { module: './src/models/{{model_id}}.ts' },
  },
  server: {
    port: 8080,
    // After SIGTERM, in-flight requests get this long. Keep it below Kubernetes'
    // terminationGracePeriodSeconds minus the preStop sleep (deploy/deployment.yaml: 40 - 5).
    shutdownTimeoutMs: 25_000,
  },
})
