// `npm run lint`: typescript-eslint's recommended type-checked rules on the TypeScript, the plain
// recommended rules on the JavaScript, and eslint-config-prettier last so layout is Prettier's alone.
import eslint from '@eslint/js';
import { defineConfig } from 'eslint/config';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'coverage/', 'data/', 'public/vendor/', 'tests/.tmp/'] },
  eslint.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Express handlers and interface methods keep their full signature; `_` marks an argument kept on purpose.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      // Passing on the error a callback or catch was handed is right; what this rule is for is rejecting with a non-error value.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true, allowThrowingUnknown: true }],
      // The schemas refuse control characters on purpose, so their patterns have to name them.
      'no-control-regex': 'off',
    },
  },
  {
    files: ['tests/**/*.ts'],
    rules: {
      // Jest's asymmetric matchers (expect.any, expect.stringContaining, ...) are typed `any` so they fit any expected shape.
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },
  {
    // Plain CommonJS run by Node (build script, bench, Jest config, the ts register hook): no type information.
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
    rules: {
      // These files are CommonJS by design: Node runs them as they are, without a build.
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    files: ['eslint.config.mjs'],
    languageOptions: { sourceType: 'module' },
  },
  {
    // The one browser script: a classic <script>, with the page's globals (htmx among them).
    files: ['public/js/**/*.js'],
    languageOptions: { sourceType: 'script', globals: { ...globals.browser, htmx: 'readonly' } },
  },
  prettier,
);
