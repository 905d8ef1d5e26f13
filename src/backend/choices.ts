/**
 * The backend names a user can choose, apart from the backends themselves so that a command's
 * flags can list them without loading TF.js (start-up time).
 */
export const BACKEND_CHOICES = ['auto', 'node', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];
export type BackendName = Exclude<BackendChoice, 'auto'>;
