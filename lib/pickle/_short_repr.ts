// One-line Python-like repr of a value for error messages; containers are
// summarised, never walked, so hostile graphs cannot blow it up.
import { PyFloat } from "./py_float.ts";
import { Tuple } from "./tuple.ts";

const MAX = 80;

export function shortRepr(value: unknown): string {
  let text: string;
  if (typeof value === "string") text = JSON.stringify(value).replace(/^"|"$/g, "'");
  else if (typeof value === "number" || typeof value === "bigint") text = String(value);
  else if (typeof value === "boolean") text = value ? "True" : "False";
  else if (value === null) text = "None";
  else if (value instanceof PyFloat) text = value.toString();
  else if (value instanceof Tuple) {
    text = `(${value.map(shortRepr).join(", ")}${value.length === 1 ? "," : ""})`;
  } else if (Array.isArray(value)) text = `<list of ${value.length}>`;
  else if (value instanceof Uint8Array) text = `<bytes of ${value.length}>`;
  else text = `<${value?.constructor?.name ?? typeof value}>`;
  return text.length > MAX ? `${text.slice(0, MAX - 3)}...` : text;
}
