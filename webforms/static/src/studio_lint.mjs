// bpmnlint in the browser: `window.dhrLint(definitions)` lints the modeler's diagram with the rules
// of .bpmnlintrc and resolves to [{element, rule, message, severity: 'error' | 'warning'}].
import { Linter } from 'bpmnlint';
import bundle from '../build/bpmnlint_config.mjs';

window.dhrLint = function (definitions) {
  // A linter keeps its rules, and some rules keep what they saw (no-duplicate-sequence-flows): one per run.
  const linter = new Linter({ config: bundle.config, resolver: bundle.resolver });
  return linter.lint(definitions).then(function (results) {
    const problems = [];
    Object.keys(results).forEach(function (rule) {
      results[rule].forEach(function (report) {
        problems.push({
          element: report.id || null,
          rule: rule,
          message: report.message,
          severity: report.category === 'error' ? 'error' : 'warning',
        });
      });
    });
    return problems;
  });
};
