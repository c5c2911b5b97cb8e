/**
 * omegaconf's refusals inside the config helpers: the Python exception class
 * and message omegaconf raises, before {@linkcode Config} names the edit.
 *
 * @module
 */

/** An edit omegaconf would refuse, with its exception class and message. */
export class OmegaError extends Error {
  /** omegaconf's exception class (`ValidationError`, `ReadonlyConfigError`, ...). */
  readonly pythonError: string;
  /** omegaconf's `full_key` of the refused node (`training.lr`, `layers[0]`). */
  readonly fullKey: string;

  /** Creates the error; `message` is omegaconf's, without its context lines. */
  constructor(pythonError: string, message: string, fullKey: string) {
    super(message);
    this.name = "OmegaError";
    this.pythonError = pythonError;
    this.fullKey = fullKey;
  }
}

/** An edit ckptkit cannot make faithfully (omegaconf might accept it). */
export class UnsupportedEdit extends Error {
  /** Creates the error; `message` says what cannot be done and why. */
  constructor(message: string) {
    super(message);
    this.name = "UnsupportedEdit";
  }
}

/** The values omegaconf substitutes into its message templates. */
export interface TemplateValues {
  VALUE?: string;
  VALUE_TYPE?: string;
  KEY?: string;
  FULL_KEY?: string;
  KEY_TYPE?: string;
}

/**
 * Python's `string.Template(text).safe_substitute(values)`, as omegaconf
 * formats its messages: `$NAME` and `${NAME}` replaced when known, `$$` is
 * `$`, anything else kept. Parts built before (keys, values written into
 * the text) are substituted too, as in omegaconf.
 */
export function substitute(text: string, values: TemplateValues): string {
  return text.replace(
    /\$(?:(\$)|([_a-z][_a-z0-9]*)|\{([_a-z][_a-z0-9]*)\})/gi,
    (whole, dollar: string | undefined, name?: string, braced?: string) => {
      if (dollar !== undefined) return "$";
      const found = values[(name ?? braced) as keyof TemplateValues];
      return found === undefined ? whole : found;
    },
  );
}
