/**
 * One edit of an omegaconf config: the tree it works on (its enums,
 * structured classes and metadata layouts), the flags it treats as off
 * (Python's `open_dict`/`read_write`), where a value goes for omegaconf's
 * messages, and the content of the containers it edits.
 *
 * @module
 */

import { PyDict } from "../pickle/py_dict.ts";
import { PyObject } from "../pickle/py_object.ts";
import { type Templates, templatesOf } from "./_omegaconf_build.ts";
import { type OmegaError, UnsupportedEdit } from "./_omegaconf_error.ts";
import { ConfigTree, contentOf, fullKey, nodeClass } from "./_omegaconf_node.ts";
import { omegaError, type Place } from "./_omegaconf_value.ts";
import { isStr, pyStr } from "./_py_value.ts";

/**
 * Flags to treat as off for an edit, as Python's context managers do
 * without changing the stored flags: `openDict` (`open_dict`: struct mode,
 * and structured configs' refusal of new keys, pops and deletions) and
 * `readWrite` (`read_write`: readonly).
 */
export interface EditOptions {
  /** Edit as inside `open_dict(container)`. */
  openDict?: boolean;
  /** Edit as inside `read_write(container)` and `read_write(node)`. */
  readWrite?: boolean;
}

/** One edit of a config tree: what it knows about the tree, and its options. */
export class Edit {
  readonly tree: ConfigTree;
  readonly options: EditOptions;
  #templates: Templates | undefined;

  /** An edit of the config `node` belongs to. */
  constructor(node: PyObject, options: EditOptions) {
    this.tree = new ConfigTree(node);
    this.options = options;
  }

  /** Metadata layouts of the tree's nodes, for new nodes. */
  get templates(): Templates {
    return this.#templates ??= templatesOf(this.tree.root);
  }
}

/** Where `key` of `container` is, for omegaconf's messages. */
export function place(container: PyObject, key: unknown): Place {
  return { key, fullKey: fullKey(container, key) };
}

/** omegaconf's error, its message template filled in for `value` at `where`. */
export function fail(
  edit: Edit,
  pythonError: string,
  template: string,
  value: unknown,
  where: Place,
): OmegaError {
  return omegaError(pythonError, template, value, where, edit.tree);
}

/** `str(key)`, as omegaconf writes keys into its messages. */
export function keyText(key: unknown, edit: Edit): string {
  return pyStr(key, edit.tree);
}

/** The dict of a DictConfig's nodes, or UnsupportedEdit when it holds None or a string. */
export function dictContent(container: PyObject): PyDict {
  const content = contentOf(container);
  if (!(content instanceof PyDict)) {
    throw new UnsupportedEdit(
      `${fullKey(container) || "the config"} holds ${describeContent(content)}`,
    );
  }
  return content;
}

/** The list of a ListConfig's nodes, or UnsupportedEdit when it holds None or a string. */
export function listContent(container: PyObject): unknown[] {
  const content = contentOf(container);
  if (!Array.isArray(content)) {
    throw new UnsupportedEdit(
      `${fullKey(container) || "the config"} holds ${describeContent(content)}`,
    );
  }
  return content;
}

function describeContent(content: unknown): string {
  return content === null ? "None" : isStr(content) ? `'${String(content)}'` : "no keys";
}

/**
 * A container's child as a node of a class ckptkit edits, or UnsupportedEdit
 * (newer omegaconf classes, values that are no node).
 */
export function nodeOrRefuse(child: unknown): PyObject {
  if (nodeClass(child) !== undefined) return child as PyObject;
  const what = child instanceof PyObject
    ? child.className ?? "an object"
    : "a value outside a node";
  throw new UnsupportedEdit(`${what} is not an omegaconf node ckptkit can edit`);
}
