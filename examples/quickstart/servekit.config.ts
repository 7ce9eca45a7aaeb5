import { defineConfig } from 'servekit'

// The quickstart service: two models written as user code, artifacts in ./models/<model>/<version>/.
export default defineConfig({
  store: './models',
  models: {
    churn: { module: './src/churn.ts' },
    shipping_eta: { module: './src/shipping-eta.ts' },
  },
  server: { port: 8080 },
})
