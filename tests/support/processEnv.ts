/**
 * Environment variables a test sets for the SDKs it points at loopback, and
 * puts back as they were (unset ones unset again) when it is done.
 */
export interface EnvOverrides {
  /** Sets each variable (`undefined` unsets it), remembering its first value. */
  set(values: Readonly<Record<string, string | undefined>>): void;
  /** Puts every variable set so far back as it was before the first `set`. */
  restore(): void;
}

export function envOverrides(): EnvOverrides {
  const saved = new Map<string, string | undefined>();
  const put = (name: string, value: string | undefined): void => {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  };
  return {
    set(values) {
      for (const [name, value] of Object.entries(values)) {
        if (!saved.has(name)) saved.set(name, process.env[name]);
        put(name, value);
      }
    },
    restore() {
      for (const [name, value] of saved) put(name, value);
      saved.clear();
    },
  };
}
