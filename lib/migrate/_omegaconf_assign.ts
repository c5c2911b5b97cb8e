/**
 * omegaconf's assignment rules, ported to the pickled value model:
 * `DictConfig.__setattr__`/`__setitem__` (struct and structured configs,
 * readonly, typed containers, set-in-place or a new node from the
 * container's `element_type`), `ListConfig.__setitem__`/`append`, UnionNode
 * assignment and `_node_wrap`. Nothing changes when an edit is refused: new
 * nodes are validated before they are inserted, and typed containers get
 * their old content back on an error.
 *
 * @module
 */

import { PyDict } from "../pickle/py_dict.ts";
import { PyGlobal } from "../pickle/py_global.ts";
import { PyObject } from "../pickle/py_object.ts";
import { Tuple } from "../pickle/tuple.ts";
import { interpolationProblem, isInterpolation } from "./_interpolation.ts";
import {
  copyNode,
  newContainer,
  newUnionNode,
  newValueNode,
  VALUE_CLASS_OF,
} from "./_omegaconf_build.ts";
import {
  dictContent,
  type Edit,
  fail,
  keyText,
  listContent,
  nodeOrRefuse,
  place,
} from "./_omegaconf_edit.ts";
import { OmegaError, UnsupportedEdit } from "./_omegaconf_error.ts";
import { normalizeKey } from "./_omegaconf_keys.ts";
import {
  contentOf,
  elementHint,
  flag,
  isOptional,
  isValueClass,
  metadataOf,
  nodeClass,
  ownFlag,
  parentOf,
  refHint,
  stateOf,
  typedClass,
} from "./_omegaconf_node.ts";
import {
  className,
  pickledContainerRef,
  pickledHint,
  resolveOptional,
  type TypeHint,
  typeStr,
  TYPING_ANY,
} from "./_omegaconf_types.ts";
import {
  isPrimitive,
  isSpecialString,
  type Place,
  setValueNode,
  validateValue,
} from "./_omegaconf_value.ts";
import { dictEntries, isStr, pyKind, pyStr, typeName } from "./_py_value.ts";

const BUILTIN_DICT = PyGlobal.of("builtins", "dict");
const BUILTIN_LIST = PyGlobal.of("builtins", "list");
const BUILTIN_INT = PyGlobal.of("builtins", "int");
const GETITEM = PyGlobal.of("_operator", "getitem");
const TYPING_UNION = PyGlobal.of("typing", "Union");

const ANY: TypeHint = { kind: "any" };

// ---- DictConfig --------------------------------------------------------------

/**
 * `cfg[key] = value` on a DictConfig (`cfg.key = value` for str keys).
 * `populating` is omegaconf filling a container it builds or resets, under
 * `flag_override(struct, readonly = False)`.
 */
export function dictSet(
  container: PyObject,
  rawKey: unknown,
  value: unknown,
  edit: Edit,
  populating = false,
): void {
  const content = dictContent(container);
  const key = normalizeKey(container, rawKey, value, edit);
  // cfg.key = value (a str key) raises AttributeError where cfg[key] = value raises KeyError.
  const attribute = typeof rawKey === "string";
  const stored = content.get(key);
  const child = stored === undefined ? undefined : nodeOrRefuse(stored);
  const where = place(container, key);
  const special = isStr(value) && isInterpolation(String(value));
  if (!special) {
    if (value === null) {
      if (child === undefined) checkAccess(container, key, value, edit, populating, attribute);
      const optional = child !== undefined
        ? nodeIsOptional(child)
        : resolveOptional(elementHint(container)).optional;
      if (!optional) {
        throw fail(edit, "ValidationError", "field '$FULL_KEY' is not Optional", value, where);
      }
    } else if (!(isStr(value) && String(value) === "???")) {
      if (child === undefined) checkAccess(container, key, value, edit, populating, attribute);
      if (child !== undefined && isTypedDictConfig(child)) {
        checkTypedDict(child, value, edit, where);
      }
    }
  }
  if (!populating && !edit.options.readWrite && flag(container, "readonly") === true) {
    throw fail(
      edit,
      "ReadonlyConfigError",
      "Cannot change read-only config container",
      value,
      where,
    );
  }
  if (child === undefined) checkAccess(container, key, value, edit, populating, attribute);
  if (child !== undefined && setsInPlace(child, value, edit)) {
    setNodeValue(child, value, edit, where, populating);
    return;
  }
  content.set(key, newChild(container, key, value, elementHint(container), edit, where));
}

// DictConfig._validate_get: a missing key in a structured config (unless its
// own struct flag is False) or in struct mode.
function checkAccess(
  container: PyObject,
  key: unknown,
  value: unknown,
  edit: Edit,
  populating: boolean,
  attribute: boolean,
): void {
  if (populating || edit.options.openDict) return;
  const typed = typedClass(container);
  if (typed !== undefined && ownFlag(container, "struct") === false) return;
  if (typed === undefined && flag(container, "struct") !== true) return;
  const pythonError = attribute ? "ConfigAttributeError" : "ConfigKeyError";
  const text = keyText(key, edit);
  const message = typed !== undefined
    ? `Key '${text}' not in '${className(typed)}'`
    : `Key '${text}' is not in struct`;
  throw fail(edit, pythonError, message, value, place(container, key));
}

function nodeIsOptional(node: PyObject): boolean {
  return nodeClass(node) === "AnyNode" || isOptional(node);
}

// A DictConfig child with a ref_type: a structured config field or a Dict[K, V] field.
function isTypedDictConfig(node: PyObject): boolean {
  if (nodeClass(node) !== "DictConfig") return false;
  const refType = metadataOf(node).get("ref_type");
  return refType !== TYPING_ANY && refType !== BUILTIN_DICT;
}

// DictConfig._validate_set for a typed DictConfig target.
function checkTypedDict(target: PyObject, value: unknown, edit: Edit, where: Place): void {
  const targetHint = refHint(target);
  const valueType = objType(value, edit);
  if (valueType === "dict" && targetHint.kind === "dict") return;
  const targetText = typeStr(targetHint);
  if (targetHint.kind === "dict" || targetHint.kind === "list") {
    // omegaconf 2.2 takes no value type for a container annotation (2.3 names lists apart).
    throw fail(
      edit,
      "ValidationError",
      `Cannot assign ${valueType} to ${targetText}`,
      value,
      where,
    );
  }
  if (targetHint.kind === "class" && valueType === className(targetHint.type)) {
    const objectType = metadataOf(value as PyObject).get("object_type");
    if (objectType === targetHint.type) return;
  }
  throw fail(
    edit,
    "ValidationError",
    `Invalid type assigned: ${valueType} is not a subclass of ${targetText}. value: ${
      pyStr(value, edit.tree)
    }`,
    value,
    where,
  );
}

// omegaconf's OmegaConf.get_type(value), named by type_str: dicts and
// DictConfigs are dict (or their structured class), lists, tuples and
// ListConfigs list, None NoneType.
function objType(value: unknown, edit: Edit): string {
  const kind = pyKind(value, edit.tree);
  if (kind === "dict") return "dict";
  if (kind === "list" || kind === "tuple" || kind === "ListConfig") return "list";
  if (kind === "DictConfig") {
    const objectType = metadataOf(value as PyObject).get("object_type");
    return objectType instanceof PyGlobal && objectType !== BUILTIN_DICT
      ? className(objectType)
      : "dict";
  }
  return typeName(value, edit.tree);
}

// BaseContainer._set_item_impl's choice: set the existing node's value when
// it has a ref_type (typed value node, UnionNode, typed container), or it
// is an AnyNode and the value a primitive; otherwise a new node replaces it.
function setsInPlace(child: PyObject, value: unknown, edit: Edit): boolean {
  const cls = nodeClass(child);
  if (cls === "AnyNode") return isPrimitive(value, edit.tree);
  if (cls === "DictConfig" || cls === "ListConfig") {
    return metadataOf(child).get("ref_type") !== TYPING_ANY;
  }
  return true;
}

/** `node._set_value(value)` for a node kept in place. */
function setNodeValue(
  node: PyObject,
  value: unknown,
  edit: Edit,
  where: Place,
  populating: boolean,
): void {
  const cls = nodeClass(node);
  if (isValueClass(cls)) {
    setValueNode(node, cls, value, edit.tree, where, populating || edit.options.readWrite);
  } else if (cls === "UnionNode") {
    setUnion(node, value, edit, where);
  } else if (cls === "DictConfig") {
    setDictValue(node, value, edit, where);
  } else if (cls === "ListConfig") {
    setListValue(node, value, edit, where);
  }
}

// DictConfig._set_value: None, "???" or an interpolation replace the content;
// a dict rebuilds it key by key through the container's own rules.
function setDictValue(node: PyObject, value: unknown, edit: Edit, where: Place): void {
  if (value === null) {
    if (!nodeIsOptional(node)) {
      throw fail(edit, "ValidationError", "field '$FULL_KEY' is not Optional", value, where);
    }
  } else if (!isSpecialString(value) && isTypedDictConfig(node)) {
    checkTypedDict(node, value, edit, where);
  }
  if (value === null || isSpecialString(value)) {
    checkInterpolation(value, where);
    replaceContent(node, value, null);
    return;
  }
  // A config's items go in one by one, as values where its nodes are untyped;
  // the container's own flags are reset, as omegaconf resets them.
  const isConfig = pyKind(value, edit.tree) === "DictConfig";
  const entries = isConfig ? configItems(value as PyObject, node) : value;
  fill(node, new PyDict(), BUILTIN_DICT, () => {
    if (isConfig) resetFlags(node, edit);
    for (const [k, v] of dictEntries(entries)) dictSet(node, k, v, edit, true);
  });
}

// The items of a config assigned to a typed container: omegaconf copies its
// nodes one by one, which for AnyNode items of scalars into scalar elements
// comes to assigning their values. Other configs (typed or nested nodes, or
// container elements, where omegaconf's node copy keeps and retypes nodes)
// are refused: assign their plain content instead.
function configItems(source: PyObject, target: PyObject): unknown {
  const content = contentOf(source);
  const items = content instanceof PyDict ? [...content.values()] : content;
  const element = resolveOptional(elementHint(target)).hint;
  const flat = Array.isArray(items) && metadataOf(source).get("ref_type") === TYPING_ANY &&
    items.every((item) => nodeClass(item) === "AnyNode") &&
    !["dict", "list", "class", "union"].includes(element.kind);
  if (!flat) {
    throw new UnsupportedEdit(
      "omegaconf copies a config into a typed container node by node, which ckptkit does only " +
        "for AnyNode items of scalar elements: assign its plain content",
    );
  }
  const value = (item: unknown) => stateOf(item as PyObject).get("_val");
  if (Array.isArray(content)) return content.map(value);
  return new PyDict([...(content as PyDict)].map(([k, v]) => [k, value(v)] as [unknown, unknown]));
}

// omegaconf resets a container's own flags when a config is assigned to it;
// inside read_write(node) the node's readonly flag comes back afterwards.
function resetFlags(node: PyObject, edit: Edit): void {
  const metadata = metadataOf(node);
  const flags = new PyDict();
  const readonly = ownFlag(node, "readonly");
  if (edit.options.readWrite && readonly !== undefined) flags.set("readonly", readonly);
  metadata.set("flags", flags);
}

// ListConfig._set_value: None (if optional), "???" or an interpolation replace
// the content; a list or tuple rebuilds it item by item (append).
function setListValue(node: PyObject, value: unknown, edit: Edit, where: Place): void {
  checkInterpolation(value, where);
  if (value === null) {
    if (!nodeIsOptional(node)) {
      throw fail(
        edit,
        "ValidationError",
        "Non optional ListConfig cannot be constructed from None",
        value,
        where,
      );
    }
  }
  if (value === null || isSpecialString(value)) {
    replaceContent(node, value, null);
    return;
  }
  const kind = pyKind(value, edit.tree);
  if (kind === "ListConfig") {
    const items = configItems(value as PyObject, node) as unknown[];
    fill(node, [], BUILTIN_LIST, () => {
      resetFlags(node, edit);
      for (const item of items) listAppend(node, item, edit, true);
    });
    return;
  }
  if (kind !== "list" && kind !== "tuple") {
    throw fail(
      edit,
      "ValidationError",
      `Invalid value assigned: ${typeName(value, edit.tree)} is not a ListConfig, list or tuple.`,
      value,
      where,
    );
  }
  fill(node, [], BUILTIN_LIST, () => {
    for (const item of value as unknown[]) listAppend(node, item, edit, true);
  });
}

function checkInterpolation(value: unknown, where: Place): void {
  if (!isStr(value) || !isInterpolation(String(value))) return;
  const problem = interpolationProblem(String(value));
  if (problem !== undefined) throw new OmegaError("GrammarParseError", problem, where.fullKey);
}

function replaceContent(node: PyObject, content: unknown, objectType: unknown): void {
  stateOf(node).set("_content", content);
  metadataOf(node).set("object_type", objectType);
}

// Gives a container new content built by `build`; on an error the old
// content and object_type come back.
function fill(node: PyObject, content: unknown, objectType: PyGlobal, build: () => void): void {
  const state = stateOf(node);
  const metadata = metadataOf(node);
  const before = state.get("_content");
  const beforeType = metadata.get("object_type");
  const beforeFlags = metadata.get("flags");
  state.set("_content", content);
  try {
    build();
  } catch (error) {
    state.set("_content", before);
    metadata.set("object_type", beforeType);
    metadata.set("flags", beforeFlags);
    throw error;
  }
  metadata.set("object_type", objectType);
}

// ---- UnionNode ----------------------------------------------------------------

// UnionNode._set_value: special values stored as they are; otherwise the
// first member type that takes the value without conversion.
function setUnion(node: PyObject, value: unknown, edit: Edit, where: Place): void {
  const hint = refHint(node);
  const hintText = typeStr(hint, isOptional(node));
  if (
    value === null || (isStr(value) && (String(value) === "???" || isInterpolation(String(value))))
  ) {
    if (value === null && !isOptional(node)) {
      throw fail(
        edit,
        "ValidationError",
        `Value '$VALUE' is incompatible with type hint '${hintText}'`,
        value,
        where,
      );
    }
    stateOf(node).set("_content", value);
    return;
  }
  const kind = pyKind(value, edit.tree);
  if (kind === "DictConfig" || kind === "ListConfig") {
    throw fail(
      edit,
      "ValidationError",
      `Cannot assign container '$VALUE' of type '$VALUE_TYPE' to ${hintText}`,
      value,
      where,
    );
  }
  const members = hint.kind === "union" ? hint.members.filter((m) => m.kind !== "none") : [hint];
  for (const member of members) {
    try {
      const child = wrap(value, member, false, null, node, edit, where);
      stateOf(node).set("_content", child);
      return;
    } catch (error) {
      if (
        !(error instanceof OmegaError) ||
        (error.pythonError !== "ValidationError" && error.pythonError !== "UnsupportedValueType")
      ) {
        throw error;
      }
    }
  }
  throw fail(
    edit,
    "ValidationError",
    `Value '$VALUE' of type '$VALUE_TYPE' is incompatible with type hint '${hintText}'`,
    value,
    where,
  );
}

// ---- new nodes -------------------------------------------------------------------

/**
 * The node a container stores for a value at a key it does not keep in
 * place: a config node as it is (copied when it is still in a config, as
 * Python's deepcopy), or `_node_wrap` of the value with the container's
 * element type.
 */
function newChild(
  container: PyObject,
  key: unknown,
  value: unknown,
  element: TypeHint,
  edit: Edit,
  where: Place,
): PyObject {
  const kind = pyKind(value, edit.tree);
  if (kind !== "DictConfig" && kind !== "ListConfig") {
    const { optional, hint } = resolveOptional(element);
    return wrap(value, hint, optional, key, container, edit, where);
  }
  const { hint } = resolveOptional(element);
  if (hint.kind !== "any") {
    if (
      hint.kind === "union" ||
      ["int", "float", "bool", "str", "bytes", "path"].includes(hint.kind) || isEnumHint(hint, edit)
    ) {
      // omegaconf wraps the config node with the element type, which refuses it.
      const { optional } = resolveOptional(element);
      return wrap(value, hint, optional, key, container, edit, where);
    }
    throw new UnsupportedEdit(
      `a config moves only to where omegaconf stores it as it is (a key without a type), ` +
        `not into ${typeStr(element)} elements`,
    );
  }
  return adopt(value as PyObject, container, key);
}

function isEnumHint(hint: TypeHint, edit: Edit): boolean {
  return hint.kind === "class" && edit.tree.fieldsOf(hint.type) !== undefined;
}

// A config node put at `key`: moved when it is in no container any more
// (popped), else a copy; its parent and key become the new ones.
function adopt(node: PyObject, container: PyObject, key: unknown): PyObject {
  const parent = parentOf(node);
  const attached = parent !== undefined && holds(parent, node);
  const placed = attached ? copyNode(node, container) : node;
  stateOf(placed).set("_parent", container);
  metadataOf(placed).set("key", key);
  return placed;
}

function holds(container: PyObject, node: PyObject): boolean {
  const content = contentOf(container);
  if (content instanceof PyDict) return [...content.values()].includes(node);
  if (Array.isArray(content)) return content.includes(node);
  return content === node;
}

/**
 * omegaconf's `_node_wrap`: a new node for `value` declared as `hint`
 * (Optional already resolved into `optional`), with `parent` as its parent,
 * validated before anyone sees it.
 */
function wrap(
  value: unknown,
  hint: TypeHint,
  optional: boolean,
  key: unknown,
  parent: PyObject,
  edit: Edit,
  where: Place,
): PyObject {
  const kind = pyKind(value, edit.tree);
  const at: Place = key === null ? where : place(parent, key);
  if (hint.kind === "dict" || (hint.kind === "any" && kind === "dict")) {
    const node = newContainer(
      "DictConfig",
      {
        ref_type: hint.kind === "dict" ? pickledContainerRef(hint) : TYPING_ANY,
        object_type: BUILTIN_DICT,
        optional,
        key,
        key_type: pickledHint(hint.kind === "dict" ? hint.key : ANY),
        element_type: pickledHint(hint.kind === "dict" ? hint.value : ANY),
      },
      parent,
      null,
      edit.templates,
    );
    setDictValue(node, value, edit, at);
    return node;
  }
  if (hint.kind === "list" || (hint.kind === "any" && (kind === "list" || kind === "tuple"))) {
    const node = newContainer(
      "ListConfig",
      {
        ref_type: hint.kind === "list" ? pickledContainerRef(hint) : TYPING_ANY,
        object_type: BUILTIN_LIST,
        optional,
        key,
        key_type: BUILTIN_INT,
        element_type: pickledHint(hint.kind === "list" ? hint.element : ANY),
      },
      parent,
      null,
      edit.templates,
    );
    setListValue(node, value, edit, at);
    return node;
  }
  if (hint.kind === "class" && edit.tree.isStructured(hint.type)) {
    const node = newContainer(
      "DictConfig",
      {
        ref_type: hint.type,
        object_type: hint.type,
        optional,
        key,
        key_type: TYPING_ANY,
        element_type: TYPING_ANY,
      },
      parent,
      null,
      edit.templates,
    );
    if (value !== null && !isSpecialString(value)) {
      // A structured config takes only an instance of its class, which a
      // pickle-level value cannot be: the same refusal omegaconf gives a dict.
      checkTypedDict(node, value, edit, at);
      throw new UnsupportedEdit(`cannot build a ${className(hint.type)} from ${kind}`);
    }
    setDictValue(node, value, edit, at);
    return node;
  }
  if (hint.kind === "union") {
    const raw = hint.raw ?? new PyObject(
      GETITEM,
      Tuple.of(TYPING_UNION, Tuple.fromArray(hint.members.map(pickledHint))),
      "reduce",
    );
    const node = newUnionNode(
      { ref_type: raw, object_type: null, optional, key },
      parent,
      edit.templates,
    );
    setUnion(node, value, edit, at);
    return node;
  }
  if (hint.kind === "any") {
    return valueNode("AnyNode", value, TYPING_ANY, null, true, key, parent, edit, at);
  }
  if (hint.kind === "class") {
    const fields = edit.tree.fieldsOf(hint.type);
    if (fields !== undefined) {
      return valueNode("EnumNode", value, hint.type, hint.type, optional, key, parent, edit, at, {
        enumType: hint.type,
        fields,
      });
    }
  }
  if (hint.kind in VALUE_CLASS_OF) {
    const raw = pickledHint(hint);
    const cls = VALUE_CLASS_OF[hint.kind as keyof typeof VALUE_CLASS_OF];
    return valueNode(cls, value, raw, raw, optional, key, parent, edit, at);
  }
  if (flag(parent, "allow_objects") === true) {
    return valueNode("AnyNode", value, TYPING_ANY, null, true, key, parent, edit, at);
  }
  if (hint.kind === "class") {
    throw new UnsupportedEdit(
      `no node of the config says whether ${hint.type.path} is an enum or a structured config`,
    );
  }
  throw fail(edit, "ValidationError", `Unexpected object type: ${typeStr(hint)}`, value, at);
}

function valueNode(
  cls: Parameters<typeof newValueNode>[0],
  value: unknown,
  refType: unknown,
  objectType: unknown,
  optional: boolean,
  key: unknown,
  parent: PyObject,
  edit: Edit,
  at: Place,
  enumState?: { enumType: PyGlobal; fields: PyDict },
): PyObject {
  const node = newValueNode(
    cls,
    { ref_type: refType, object_type: objectType, optional, key },
    parent,
    edit.templates,
    enumState,
  );
  // A new node is set inside read_write(node): only the container's readonly counts.
  stateOf(node).set("_val", validateValue(node, cls, value, edit.tree, at));
  return node;
}

// ---- ListConfig ----------------------------------------------------------------------

/** `cfg[index] = value` on a ListConfig; an index just past the end appends. */
export function listSet(container: PyObject, index: unknown, value: unknown, edit: Edit): void {
  const items = listContent(container);
  if (index === items.length) {
    listAppend(container, value, edit, false);
    return;
  }
  const where = place(container, index);
  checkIndex(index, value, edit, where);
  checkListSet(container, index as number, value, edit, where, false);
  const at = (index as number) < 0 ? items.length + (index as number) : index as number;
  if (at < 0 || at >= items.length) {
    throw fail(edit, "ConfigIndexError", "list index out of range", value, where);
  }
  const child = nodeOrRefuse(items[at]);
  if (setsInPlace(child, value, edit)) {
    setNodeValue(child, value, edit, where, false);
    return;
  }
  // omegaconf keys the new node by the index as given (-1 stays -1).
  items[at] = newChild(container, index, value, elementHint(container), edit, where);
}

function checkIndex(index: unknown, value: unknown, edit: Edit, where: Place): void {
  if (typeof index === "number" && Number.isInteger(index)) return;
  throw fail(
    edit,
    "KeyValidationError",
    "ListConfig indices must be integers or slices, not $KEY_TYPE",
    value,
    where,
  );
}

// ListConfig._validate_set: readonly, None into a non-optional element, and
// the element type's Optional and structured-class checks.
function checkListSet(
  container: PyObject,
  index: number,
  value: unknown,
  edit: Edit,
  where: Place,
  populating: boolean,
): void {
  if (!populating && !edit.options.readWrite && flag(container, "readonly") === true) {
    throw fail(edit, "ReadonlyConfigError", "ListConfig is read-only", value, where);
  }
  const items = listContent(container);
  if (index >= 0 && index < items.length) {
    const target = items[index];
    if (target instanceof PyObject && value === null && !nodeIsOptional(target)) {
      throw fail(
        edit,
        "ValidationError",
        "$FULL_KEY is not optional and cannot be assigned None",
        value,
        where,
      );
    }
  }
  if (isStr(value) && String(value) === "???") return;
  const { optional, hint } = resolveOptional(elementHint(container));
  const structured = hint.kind === "class" && edit.tree.isStructured(hint.type);
  if ((value === null && !optional) || (structured && value !== null)) {
    const valueType = value === null ? "NoneType" : objType(value, edit);
    if (value !== null && valueType === typeStr(hint)) return;
    throw fail(
      edit,
      "ValidationError",
      `Invalid type assigned: ${valueType} is not a subclass of ${typeStr(hint)}. value: ${
        pyStr(value, edit.tree)
      }`,
      value,
      where,
    );
  }
}

/** `cfg.append(value)` on a ListConfig. */
export function listAppend(
  container: PyObject,
  value: unknown,
  edit: Edit,
  populating: boolean,
): void {
  const items = listContent(container);
  const index = items.length;
  const where = place(container, index);
  // omegaconf appends a placeholder first: the index is in range, with no node.
  items.push(null);
  try {
    checkListSet(container, index, value, edit, where, populating);
    items[index] = newChild(container, index, value, elementHint(container), edit, where);
  } catch (error) {
    items.pop();
    throw error;
  }
}
