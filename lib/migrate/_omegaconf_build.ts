/**
 * Building pickled omegaconf nodes as omegaconf's constructors lay them
 * out: class, state keys in omegaconf's order, `Metadata` or
 * `ContainerMetadata` with the same fields as the nodes already in the
 * checkpoint (so a 2.0/2.1 config gets 2.0/2.1-shaped metadata), and deep
 * copies of nodes.
 *
 * @module
 */

import { PyDict } from "../pickle/py_dict.ts";
import { PyGlobal } from "../pickle/py_global.ts";
import { PyObject } from "../pickle/py_object.ts";
import { Tuple } from "../pickle/tuple.ts";
import {
  classGlobal,
  nodeClass,
  nodesOf,
  stateOf,
  type ValueNodeClass,
} from "./_omegaconf_node.ts";
import { TYPING_ANY } from "./_omegaconf_types.ts";

const METADATA = PyGlobal.of("omegaconf.base", "Metadata");
const CONTAINER_METADATA = PyGlobal.of("omegaconf.base", "ContainerMetadata");
const DEFAULTDICT = PyGlobal.of("collections", "defaultdict");
const BUILTIN_DICT = PyGlobal.of("builtins", "dict");

/** Metadata states already in the tree, whose fields new nodes copy. */
export interface Templates {
  /** The state of a value node's `Metadata`. */
  value: PyDict | undefined;
  /** The state of a container's `ContainerMetadata`. */
  container: PyDict | undefined;
}

/** The first `Metadata` and `ContainerMetadata` states of the config `root` heads. */
export function templatesOf(root: PyObject): Templates {
  const found: Templates = { value: undefined, container: undefined };
  for (const node of nodesOf(root)) {
    const metadata = stateOf(node).get("_metadata");
    if (metadata instanceof PyObject && metadata.state instanceof PyDict) {
      if (metadata.callable === METADATA) found.value ??= metadata.state;
      if (metadata.callable === CONTAINER_METADATA) found.container ??= metadata.state;
    }
    if (found.value !== undefined && found.container !== undefined) break;
  }
  return found;
}

/** The metadata fields of a new node. */
export interface MetadataFields {
  ref_type: unknown;
  object_type: unknown;
  optional: boolean;
  key: unknown;
  /** Containers only. */
  key_type?: unknown;
  /** Containers only. */
  element_type?: unknown;
}

/** A `Metadata` (value nodes, UnionNode) or `ContainerMetadata` object with empty flags. */
export function newMetadata(
  container: boolean,
  fields: MetadataFields,
  templates: Templates,
): PyObject {
  const defaults = new Map<string, () => unknown>([
    ["ref_type", () => fields.ref_type],
    ["object_type", () => fields.object_type],
    ["optional", () => fields.optional],
    ["key", () => fields.key],
    ["flags", () => new PyDict()],
    ["flags_root", () => false],
    ["resolver_cache", () => new PyObject(DEFAULTDICT, Tuple.of(BUILTIN_DICT))],
  ]);
  if (container) {
    defaults.set("key_type", () => fields.key_type ?? TYPING_ANY);
    defaults.set("element_type", () => fields.element_type ?? TYPING_ANY);
  }
  const template = container ? templates.container : templates.value;
  const state = new PyDict<string, unknown>();
  if (template === undefined) {
    for (const [field, make] of defaults) state.set(field, make());
  } else {
    // Fields of older omegaconf versions that the defaults do not know keep
    // the template's value (key_type/element_type of 2.0/2.1 value nodes).
    for (const [field, value] of template) {
      const make = defaults.get(field as string);
      state.set(field as string, make === undefined ? value : make());
    }
  }
  return new PyObject(container ? CONTAINER_METADATA : METADATA, Tuple.of(), "newobj", state);
}

/**
 * A value node with `_val` None, not yet in its container (the caller
 * validates the value with the node in place, then inserts it). EnumNodes
 * get their enum's `fields` and `enum_type` first, as omegaconf orders them.
 */
export function newValueNode(
  cls: ValueNodeClass,
  fields: MetadataFields,
  parent: PyObject,
  templates: Templates,
  enumState?: { enumType: PyGlobal; fields: PyDict },
): PyObject {
  const state = new PyDict<string, unknown>();
  if (enumState !== undefined) {
    state.set("fields", new PyDict(enumState.fields));
    state.set("enum_type", enumState.enumType);
  }
  state.set("_metadata", newMetadata(false, fields, templates));
  state.set("_parent", parent);
  state.set("_val", null);
  return new PyObject(classGlobal(cls), Tuple.of(), "newobj", state);
}

/** A DictConfig or ListConfig with the given content. */
export function newContainer(
  cls: "DictConfig" | "ListConfig",
  fields: MetadataFields,
  parent: PyObject | null,
  content: unknown,
  templates: Templates,
): PyObject {
  return new PyObject(
    classGlobal(cls),
    Tuple.of(),
    "newobj",
    new PyDict<string, unknown>([
      ["_metadata", newMetadata(true, fields, templates)],
      ["_parent", parent],
      ["_content", content],
    ]),
  );
}

/** A UnionNode with the given content (a value node, None or a special string). */
export function newUnionNode(
  fields: MetadataFields,
  parent: PyObject,
  templates: Templates,
): PyObject {
  const metadata = newMetadata(false, fields, templates);
  (metadata.state as PyDict).set("flags", new PyDict([["convert", false]]));
  return new PyObject(
    classGlobal("UnionNode"),
    Tuple.of(),
    "newobj",
    new PyDict<string, unknown>([["_metadata", metadata], ["_parent", parent], ["_content", null]]),
  );
}

/**
 * A deep copy of a node tree, as Python's `copy.deepcopy` of a config
 * (what omegaconf stores when a node still in a config is assigned
 * elsewhere): new nodes, metadata, flags and content; values shared
 * (they are immutable); parents pointing into the copy, the root's to
 * `parent`.
 */
export function copyNode(node: PyObject, parent: PyObject | null): PyObject {
  const copy = (source: PyObject, newParent: PyObject | null): PyObject => {
    const state = stateOf(source);
    const target = new PyObject(source.callable, source.args, source.how);
    const newState = new PyDict<string, unknown>();
    for (const [field, value] of state) {
      if (field === "_parent") newState.set(field, newParent);
      else if (field === "_metadata") newState.set(field, copyObject(value));
      else if (field === "fields") {
        newState.set(field, value instanceof PyDict ? new PyDict(value) : value);
      } else if (field === "_content") newState.set(field, copyContent(value, target));
      else newState.set(field, value);
    }
    target.state = newState;
    return target;
  };
  const copyContent = (content: unknown, owner: PyObject): unknown => {
    if (nodeClass(content) !== undefined) return copy(content as PyObject, owner);
    if (content instanceof PyDict && !(content instanceof PyObject)) {
      return new PyDict(
        [...content].map((
          [k, v],
        ) => [k, nodeClass(v) !== undefined ? copy(v as PyObject, owner) : v]),
      );
    }
    if (Array.isArray(content) && !(content instanceof Tuple)) {
      return content.map((v) => nodeClass(v) !== undefined ? copy(v as PyObject, owner) : v);
    }
    return content;
  };
  return copy(node, parent);
}

// A copy of a Metadata object: its own flags dict and resolver cache.
function copyObject(metadata: unknown): unknown {
  if (!(metadata instanceof PyObject) || !(metadata.state instanceof PyDict)) return metadata;
  const state = new PyDict<string, unknown>();
  for (const [field, value] of metadata.state as PyDict<string, unknown>) {
    if (value instanceof PyDict && !(value instanceof PyObject)) {
      state.set(field, new PyDict(value));
    } else if (value instanceof PyObject && value.callable === DEFAULTDICT) {
      const cache = new PyObject(value.callable, value.args, value.how, value.state);
      for (const [k, v] of value) cache.set(k, v);
      state.set(field, cache);
    } else state.set(field, value);
  }
  return new PyObject(metadata.callable, metadata.args, metadata.how, state);
}

/** The node class names of value nodes, for building them from annotations. */
export const VALUE_CLASS_OF: Record<
  "int" | "float" | "bool" | "str" | "bytes" | "path",
  ValueNodeClass
> = {
  int: "IntegerNode",
  float: "FloatNode",
  bool: "BooleanNode",
  str: "StringNode",
  bytes: "BytesNode",
  path: "PathNode",
};
