/** Text checks shared by tests of what idgate shows users (warnings, messages, reports). */

/** A C0 control character or DEL: never allowed in what a user's terminal or the API server shows. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is this pattern's purpose.
export const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;
