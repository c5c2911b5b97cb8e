/**
 * omegaconf's removals: `DictConfig.pop`/`del` (refused in read-only
 * configs, in struct mode and by structured configs) and
 * `ListConfig.pop`/`del` (refused when read-only), renumbering list items.
 *
 * @module
 */

import { PyDict } from "../pickle/py_dict.ts";
import { PyObject } from "../pickle/py_object.ts";
import { dictContent, type Edit, fail, keyText, listContent, place } from "./_omegaconf_edit.ts";
import { normalizeKey } from "./_omegaconf_keys.ts";
import { flag, fullKey, metadataOf, nodeClass, ownFlag, typedClass } from "./_omegaconf_node.ts";
import { className } from "./_omegaconf_types.ts";
import type { Place } from "./_omegaconf_value.ts";

/** The node `container.pop(key)` removes, after omegaconf's checks; undefined when missing. */
export function popNode(
  container: PyObject,
  key: unknown,
  hasDefault: boolean,
  edit: Edit,
): PyObject | undefined {
  const where = place(container, key);
  if (nodeClass(container) === "ListConfig") {
    if (!edit.options.readWrite && flag(container, "readonly") === true) {
      throw fail(edit, "ReadonlyConfigError", "Cannot pop from read-only ListConfig", null, where);
    }
    if (typeof key !== "number" || !Number.isInteger(key)) {
      throw fail(
        edit,
        "ConfigTypeError",
        "ListConfig indices must be integers or slices, not $KEY_TYPE",
        null,
        where,
      );
    }
    const items = listContent(container);
    const at = key < 0 ? items.length + key : key;
    if (at < 0 || at >= items.length) {
      if (hasDefault) return undefined;
      throw fail(edit, "ConfigIndexError", "list index out of range", null, where);
    }
    const [node] = items.splice(at, 1);
    renumber(items);
    return node as PyObject;
  }
  if (!edit.options.readWrite && flag(container, "readonly") === true) {
    throw fail(edit, "ReadonlyConfigError", "Cannot pop from read-only node", null, where);
  }
  refuseRemoval(container, "pop", where, edit);
  const content = dictContent(container);
  const normalized = normalizeKey(container, key, null, edit);
  const node = content.get(normalized) as PyObject | undefined;
  if (node === undefined) {
    if (hasDefault) return undefined;
    const text = keyText(normalized, edit);
    const full = fullKey(container, normalized);
    // omegaconf compares the full key with the key itself: only a str key can equal it.
    const same = typeof normalized === "string" && full === normalized;
    throw fail(
      edit,
      "ConfigKeyError",
      same ? `Key not found: '${text}'` : `Key not found: '${text}' (path: '${full}')`,
      null,
      where,
    );
  }
  content.delete(normalized);
  return node;
}

/** `del container[key]`: true when removed, false when missing (omegaconf raises then). */
export function deleteNode(container: PyObject, key: unknown, edit: Edit): boolean {
  const where = place(container, key);
  if (nodeClass(container) === "ListConfig") {
    if (!edit.options.readWrite && flag(container, "readonly") === true) {
      throw fail(
        edit,
        "ReadonlyConfigError",
        "Cannot delete item from read-only ListConfig",
        null,
        where,
      );
    }
    const items = listContent(container);
    if (typeof key !== "number" || !Number.isInteger(key)) return false;
    const at = key < 0 ? items.length + key : key;
    if (at < 0 || at >= items.length) return false;
    items.splice(at, 1);
    renumber(items);
    return true;
  }
  const normalized = normalizeKey(container, key, null, edit);
  if (!edit.options.readWrite && flag(container, "readonly") === true) {
    throw fail(
      edit,
      "ReadonlyConfigError",
      "DictConfig in read-only mode does not support deletion",
      null,
      where,
    );
  }
  refuseRemoval(container, "deletion", where, edit);
  return dictContent(container).delete(normalized);
}

// Struct mode and structured configs refuse pops and deletions.
function refuseRemoval(container: PyObject, what: string, where: Place, edit: Edit): void {
  if (edit.options.openDict) return;
  if (flag(container, "struct") === true) {
    throw fail(
      edit,
      "ConfigTypeError",
      `DictConfig in struct mode does not support ${what}`,
      null,
      where,
    );
  }
  const typed = typedClass(container);
  if (typed !== undefined && ownFlag(container, "struct") !== false) {
    throw fail(
      edit,
      "ConfigTypeError",
      `${className(typed)} (DictConfig) does not support ${what}`,
      null,
      where,
    );
  }
}

// ListConfig._update_keys: the items' keys are their indices again.
function renumber(items: unknown[]): void {
  items.forEach((node, i) => {
    if (node instanceof PyObject && node.state instanceof PyDict) metadataOf(node).set("key", i);
  });
}
