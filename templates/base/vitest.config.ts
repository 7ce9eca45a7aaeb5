import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The tests start the real service (a primary and a worker process): give them time to load.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
