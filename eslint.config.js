// Lint: type-checked TypeScript rules, the house format (@stylistic: `eslint --fix` applies it),
// and the layer rule. Layers import only downward:
// core <- net <- chord <- dhash <- fs <- fuse <- node <- cli (docs/ARCHITECTURE.md).
import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import importX from 'eslint-plugin-import-x'
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript'
import stylistic from '@stylistic/eslint-plugin'

const layers = ['core', 'net', 'chord', 'dhash', 'fs', 'fuse', 'node', 'cli']
const above = (layer) => layers.slice(layers.indexOf(layer) + 1).map((l) => `./src/${l}`)

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bench/results/**'] },
  js.configs.recommended,
  // The format the code is written in (2 spaces, single quotes, no semicolons, a space before
  // a function's parentheses), enforced and applied by `npm run format`.
  stylistic.configs.customize({ indent: 2, quotes: 'single', semi: false, braceStyle: '1tbs', commaDangle: 'always-multiline', arrowParens: true, quoteProps: 'as-needed' }),
  {
    rules: {
      '@stylistic/space-before-function-paren': ['error', 'always'],
      '@stylistic/generator-star-spacing': ['error', 'both'],
      '@stylistic/yield-star-spacing': ['error', 'both'],
      '@stylistic/max-len': ['error', { code: 160, ignoreUrls: true, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true }],
      // One-line guards (`if (x) return y`) and lists laid out by meaning are house style.
      '@stylistic/max-statements-per-line': 'off',
      '@stylistic/list-style': 'off',
      '@stylistic/operator-linebreak': 'off',
    },
  },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'import-x': importX },
    // Resolves NodeNext ".js" specifiers to the .ts sources, so the layer zones see real paths.
    settings: { 'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })] },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      '@typescript-eslint/consistent-type-imports': 'error',
      // Handlers and Startable methods are async by interface even when one needs no await.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/explicit-module-boundary-types': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error',
        { selector: 'CallExpression[callee.object.name=/^(it|test|describe)$/][callee.property.name=\'only\']', message: '.only must not be committed' }],
      'import-x/no-restricted-paths': ['error', {
        zones: [
          ...layers.slice(0, -1).map((l) => ({ target: `./src/${l}`, from: above(l), message: `layer ${l} may not import from a layer above it` })),
          // DHash sees Chord only through its public surface (the Router port).
          { target: './src/dhash', from: './src/chord', except: ['./index.ts'], message: 'dhash imports chord only via chord/index.ts' },
          // The file system sees neither the network nor the ring.
          { target: './src/fs', from: ['./src/net', './src/chord'], message: 'fs sees only the BlockService port' },
          { target: './src/fuse', from: ['./src/net', './src/chord', './src/dhash'], message: 'fuse sees only fs' },
        ],
      }],
    },
  },
  {
    files: ['src/fs/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [{ group: ['../dhash/*', '../dhash/index.js'], allowTypeImports: true, message: 'fs imports dhash types only' }],
      }],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/explicit-module-boundary-types': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
)
