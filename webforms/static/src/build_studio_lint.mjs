// Build webforms/static/build/studio_lint.js: bpmnlint's linter and the rules .bpmnlintrc names, for the
// browser (`make setup` runs it; the output is not committed). bpmnlint compiles the configuration
// into a module that imports each rule (what bpmnlint-pack-config does), and esbuild bundles it.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const require = createRequire(join(root, 'package.json'));
const compileConfig = require('bpmnlint/lib/support/compile-config');
const NodeResolver = require('bpmnlint/lib/resolver/node-resolver');

const out = join(here, '..', 'build');
mkdirSync(out, { recursive: true });
const config = JSON.parse(readFileSync(join(root, '.bpmnlintrc'), 'utf8'));
const compiled = await compileConfig(config, new NodeResolver({ require }));
writeFileSync(join(out, 'bpmnlint_config.mjs'), compiled);
await build({
  entryPoints: [join(here, 'studio_lint.mjs')],
  outfile: join(out, 'studio_lint.js'),
  bundle: true,
  format: 'iife',
  minify: true,
  target: 'es2019',
  nodePaths: [join(root, 'node_modules')],
  logLevel: 'warning',
});
