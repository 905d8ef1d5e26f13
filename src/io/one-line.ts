/**
 * Names read from a file (zip entries, tar members) may hold newlines and other control
 * characters; an error line that quotes them must stay one line and must not drive the terminal.
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** `s` with control characters written as escapes (`\n`, `\u001b`, ...). */
export function oneLine(s: string): string {
  return s.replace(CONTROL, (c) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : c === '\t' ? '\\t' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}
