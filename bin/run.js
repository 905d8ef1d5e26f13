#!/usr/bin/env node
// Production entry point: runs the compiled commands in dist/ (built by `npm ci` through `prepare`).
const { execute } = require('@oclif/core');

execute({ dir: __dirname }).catch(() => {
  // Errors are reported by the base command; make sure the exit code is non-zero.
  process.exitCode = process.exitCode || 1;
});
