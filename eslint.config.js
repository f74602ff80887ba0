// ESLint flat config: typescript-eslint with type information from tsconfig.json.
// `npm run lint` runs this and the clang-format check of the BPF C; `npm run lint:fix` applies both.
import { fileURLToPath, URL } from 'node:url';
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/**', '.tools/**', '.dependency-cruiser.cjs'] },

  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      // Each .ts file is typed by the tsconfig.json that includes it (the root one: src, test, bench, dashboards).
      parserOptions: { projectService: true, tsconfigRootDir: fileURLToPath(new URL('.', import.meta.url)) },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // The promise rules are the point of linting here; spelled out so that they stay errors
      // whatever the preset does.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test's describe/it/test return promises that the runner itself tracks; awaiting
          // them at the top of a file or in a describe body is neither needed nor what node:test
          // documents. Only these functions of node:test are exempt, matched by their declaration.
          // That takes in t.test too (TestContext.test is `typeof test`), but node:test fails a
          // subtest that its parent did not await; every other promise is still reported.
          allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] }],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      // verbatimModuleSyntax keeps every import that is not marked `type` in the output: mark them.
      '@typescript-eslint/consistent-type-imports': 'error',
      // ...and an import whose every name is `type` (`import { type A } from 'x'`) still leaves a
      // side-effect `import 'x'` behind under verbatimModuleSyntax: write `import type` instead.
      '@typescript-eslint/no-import-type-side-effects': 'error',

      // Off: the code is written to pass tsc's noUncheckedIndexedAccess (it does, with no error), so
      // indexed reads carry a `!` where the index is known good. Judged against tsconfig.json, which
      // does not set that flag, the rule calls all ~275 of them unnecessary and would strip them.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // Unused names are tsc's job (noUnusedLocals, noUnusedParameters); this rule would report them a
      // second time, and on top of that the `_`-named rest siblings that leave properties out.
      '@typescript-eslint/no-unused-vars': 'off',
    },
  },

  {
    // Tests, their helpers and the fakes take apart JSON, YAML and protobuf they parsed themselves and
    // assert on the shape at run time; typing every step of that would be ceremony, not safety. The
    // agent (src/), bench/ and dashboards/ keep these rules.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },

  {
    // Plain JavaScript (bin/, this file): not in tsconfig.json, so no type information.
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
