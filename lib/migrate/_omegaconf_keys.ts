/**
 * DictConfig keys as omegaconf takes them: checked and converted against the
 * dict's `key_type` (str, int, float, bool, bytes, an Enum), and found as the
 * dict spells them ("0" or 0, an enum member named by its name or value).
 *
 * @module
 */

import { PyDict } from "../pickle/py_dict.ts";
import type { PyGlobal } from "../pickle/py_global.ts";
import { PyObject } from "../pickle/py_object.ts";
import { Tuple } from "../pickle/tuple.ts";
import { type Edit, fail, place } from "./_omegaconf_edit.ts";
import { UnsupportedEdit } from "./_omegaconf_error.ts";
import { ConfigTree, contentOf, keyHint } from "./_omegaconf_node.ts";
import { className, typeStr } from "./_omegaconf_types.ts";
import type { Place } from "./_omegaconf_value.ts";
import { enumMember, memberName, pyEquals, pyKind } from "./_py_value.ts";

/**
 * DictConfig._validate_and_normalize_key: the key as the dict's key_type
 * wants it (a bool for 0/1 in a Dict[bool, ...]), or KeyValidationError.
 */
export function normalizeKey(
  container: PyObject,
  key: unknown,
  value: unknown,
  edit: Edit,
): unknown {
  const hint = keyHint(container);
  const kind = pyKind(key, edit.tree);
  const where = place(container, key);
  if (hint.kind === "any") {
    if (["str", "bytes", "int", "float", "bool", "enum"].includes(kind)) return key;
    throw fail(edit, "KeyValidationError", "Incompatible key type '$KEY_TYPE'", value, where);
  }
  if (hint.kind === "bool" && (key === 0 || key === 1)) return key === 1;
  if (
    hint.kind === "str" || hint.kind === "bytes" || hint.kind === "int" ||
    hint.kind === "float" || hint.kind === "bool"
  ) {
    // isinstance(key, float) is False for ints; isinstance(key, int) True for bools.
    const ok = kind === hint.kind || (hint.kind === "int" && kind === "bool");
    if (ok) return key;
    throw fail(
      edit,
      "KeyValidationError",
      `Key $KEY ($KEY_TYPE) is incompatible with (${hint.kind})`,
      value,
      where,
    );
  }
  if (hint.kind === "class") return enumKey(container, hint.type, key, value, edit, where);
  throw new UnsupportedEdit(`keys of type ${typeStr(hint)} are not supported`);
}

// A key of a Dict[SomeEnum, ...]: the member the key names (by name, "Class.NAME"
// or value, as EnumNode converts), the key object already in the dict when it
// is there, else a new member Enum(value).
function enumKey(
  container: PyObject,
  type: PyGlobal,
  key: unknown,
  value: unknown,
  edit: Edit,
  where: Place,
): unknown {
  const existing = findKey(container, key, edit.tree);
  if (existing !== undefined) return existing;
  if (enumMember(key, edit.tree)?.type === type) return key;
  const fields = edit.tree.fieldsOf(type);
  if (fields === undefined) {
    throw new UnsupportedEdit(`no EnumNode of the config names the members of ${type.path}`);
  }
  const kind = pyKind(key, edit.tree);
  let name: string | undefined;
  if (kind === "int") name = memberName(fields, key);
  if (kind === "str") {
    const text = String(key);
    const prefix = `${className(type)}.`;
    const bare = text.startsWith(prefix) ? text.slice(prefix.length) : text;
    if (fields.has(bare)) name = bare;
  }
  if (name === undefined) {
    const valid = [...fields.keys()].join(", ");
    throw fail(
      edit,
      "KeyValidationError",
      `Key '$KEY' is incompatible with the enum type '${className(type)}', valid: [${valid}]`,
      value,
      where,
    );
  }
  return new PyObject(type, Tuple.of(fields.get(name)), "reduce");
}

/**
 * The key of a DictConfig that `key` names, as it is spelled in the dict:
 * the key itself, "0" for 0 and 0 for "0", or an enum member key named by
 * `"RED"`, `"Color.RED"` or its value. Undefined when there is none.
 */
export function findKey(container: PyObject, key: unknown, tree?: ConfigTree): unknown {
  const content = contentOf(container);
  if (!(content instanceof PyDict)) return undefined;
  if (content.has(key)) return key;
  if (typeof key === "string" && /^-?\d+$/.test(key) && content.has(Number(key))) {
    return Number(key);
  }
  if (typeof key === "number" && content.has(String(key))) return String(key);
  if (keyHint(container).kind !== "class" || typeof key === "boolean") return undefined;
  const lookup = tree ?? new ConfigTree(container);
  for (const candidate of content.keys()) {
    const member = enumMember(candidate, lookup);
    if (member === undefined) continue;
    if (typeof key === "string") {
      const prefix = `${className(member.type)}.`;
      if (member.name === (key.startsWith(prefix) ? key.slice(prefix.length) : key)) {
        return candidate;
      }
    } else if (member.hasValue && (typeof key === "number" || typeof key === "bigint")) {
      if (pyEquals(member.value, key)) return candidate;
    }
  }
  return undefined;
}
