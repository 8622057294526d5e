/** idgate's version, stamped into the `idgate.dev/injected` annotation. Kept in step with package.json. */
export const VERSION = '0.1.0';
