// Loaded before every test file (package.json "test"): under CI, fast-check runs from one fixed seed so
// that a run is reproducible; locally each run draws a new seed, to keep finding new cases.
import fc from "fast-check";
if (process.env.CI) fc.configureGlobal({ seed: 20261127 });
