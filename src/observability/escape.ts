// Control characters in logged values, escaped so that no value can end a line and start one of its own (a model
// name with "\n2026-… FATAL …" in it), move the cursor or rewrite a terminal. Most lines hold none: one regex test,
// and only then a replace.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
/** What JSON.stringify leaves raw though some readers split lines on it (DEL, C1 controls, U+2028/2029). */
const JSON_RAW = /[\u007f-\u009f\u2028\u2029]/;
const JSON_RAWS = /[\u007f-\u009f\u2028\u2029]/g;

const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };
const hex = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;

/** `\n`, `\r`, `\t` as those two-character escapes, every other C0/C1 control and U+2028/2029 as `\uXXXX`. */
export function escapeControls(text: string): string {
  return CONTROL.test(text) ? text.replace(CONTROLS, (c) => NAMED[c] ?? hex(c)) : text;
}

/** A JSON.stringify result with the characters it leaves raw written as `\uXXXX` (still the same JSON value). */
export function escapeJsonControls(json: string): string {
  return JSON_RAW.test(json) ? json.replace(JSON_RAWS, hex) : json;
}
