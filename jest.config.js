/** @type {import('jest').Config} */
const swc = ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }]

module.exports = {
  // Generous (a global option: projects cannot set it): a test's own waits time out first, with
  // their message, and CI runs on a loaded machine.
  testTimeout: 180_000,
  projects: [
    {
      displayName: 'node',
      testEnvironment: 'node',
      testMatch: ['<rootDir>/test/cloud/**/*.test.ts', '<rootDir>/test/tools/**/*.test.ts'],
      transform: { '^.+\\.ts$': swc },
    },
    {
      displayName: 'miniprogram',
      testEnvironment: 'jsdom',
      testMatch: ['<rootDir>/test/miniprogram/**/*.test.ts'],
      // TDesign's dist (in miniprogram_npm) is ES modules: it goes through the same transform.
      transform: { '^.+\\.(ts|js)$': swc },
      transformIgnorePatterns: ['/node_modules/(?!tdesign-miniprogram|tslib)'],
      // TDesign's locale imports dayjs, which its npm build ships inside its own miniprogram_npm.
      moduleNameMapper: { '^dayjs(/.*)?$': '<rootDir>/miniprogram/miniprogram_npm/tdesign-miniprogram/miniprogram_npm/dayjs$1' },
    },
  ],
}
