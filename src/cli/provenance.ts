// Provenance lives in src/io/provenance.ts (checkpoint and result writers below cli/ record it); commands import it from here too.
export { codeVersion, gitCommit, makeProvenance, type Provenance } from '../io/provenance';
