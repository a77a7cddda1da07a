// ESLint (flat config) for the pages' JavaScript: the recommended rules, unused names and
// undefined globals as errors. Run by `npm run lint` and tests/test_js_quality.py (make test).
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["web_client/vendor/**", "node_modules/**", ".venv/**", "test-artifacts/**", "var/**"] },
  js.configs.recommended,
  {
    files: ["web_client/**/*.js", "tests/media/browser/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { ...globals.browser },
    },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      "no-unused-vars": ["error", { args: "after-used", argsIgnorePattern: "^_", caughtErrors: "all", caughtErrorsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-undef": "error",
      // a name that hides an outer one: the refactor of #16 hid the page's topic follower
      // behind a `session` parameter (a site screen never played the programme)
      "no-shadow": ["error", { hoist: "all" }],
    },
  },
  {
    // the API docs page loads this one as a classic script (docs.html)
    files: ["web_client/shared/docs.js"],
    languageOptions: { sourceType: "script" },
  },
];
