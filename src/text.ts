/**
 * Text helpers shared by the injector (mutate/) and the rules (baseline/): a neutral module, so
 * neither folder imports the other for them.
 */

/**
 * Quotes a user-supplied value for a message (the injector's reasons and warnings, every rule's
 * violations): JSON escaping removes control characters, the length is bounded, and the cut is
 * marked with ASCII `...` because these texts travel in Warning headers.
 */
export function quote(value: unknown, max = 60): string {
  const s = typeof value === 'string' ? value : (JSON.stringify(value) ?? 'undefined');
  return JSON.stringify(s.length > max ? `${s.slice(0, max)}...` : s);
}

/**
 * Replaces each run of control characters (C0, DEL, C1) with one space: they would corrupt a
 * Warning header or a terminal, and messages quote user input.
 */
export function stripControls(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this removes
  return text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ');
}
