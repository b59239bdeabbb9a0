const js = require("@eslint/js");
const tseslint = require("typescript-eslint");

module.exports = tseslint.config(
  { ignores: ["node_modules/**", "dist/**", "test/fixtures/**", "coverage/**", "reports/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.js"],
    languageOptions: {
      sourceType: "commonjs",
      globals: {
        require: "readonly",
        module: "writable",
        process: "readonly",
        console: "readonly",
        __dirname: "readonly",
      },
    },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  {
    // Runs inside the Espruino interpreter (host-tools/src/espruino-real): Espruino's globals, its own dialect.
    files: ["host-tools/src/espruino-real/board-shim.js"],
    languageOptions: {
      sourceType: "script",
      globals: {
        print: "readonly",
        NRF: "readonly",
        E: "readonly",
        getTime: "readonly",
        load: "readonly",
        setTimeout: "readonly",
        __T_CFG: "readonly",
        __aesEcb: "readonly",
      },
    },
    rules: { "no-var": "off", "no-redeclare": "off" },
  },
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["warn", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
);
