/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
    // jose and oauth4webapi ship only ES modules; Jest on Node 20 needs them compiled to CommonJS.
    '^.+/node_modules/(jose|oauth4webapi)/.+\\.js$': ['ts-jest', { tsconfig: { allowJs: true, module: 'commonjs', target: 'ES2022', isolatedModules: true } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(jose|oauth4webapi)/)'],
  testTimeout: 30000,
  // TEST_ENGINE=postgres: one throwaway PostgreSQL cluster for the run (tests/support/postgres.ts).
  globalSetup: '<rootDir>/tests/support/global-setup.ts',
  globalTeardown: '<rootDir>/tests/support/global-teardown.ts',
};
