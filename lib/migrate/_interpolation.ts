/**
 * Whether a string omegaconf stores as an interpolation is well formed:
 * omegaconf's fast pattern, then a recognizer of its interpolation grammar
 * (the lexer modes and parser rules of OmegaConfGrammarLexer/Parser.g4,
 * omegaconf 2.3, where resolver names may contain `-`).
 *
 * @module
 */

/** True when omegaconf takes `text` as an interpolation: it contains `${`. */
export function isInterpolation(text: string): boolean {
  return text.includes("${");
}

/**
 * Checks an interpolation as omegaconf does on assignment (strict
 * validation); returns why it is malformed, or undefined when it is well
 * formed.
 */
export function interpolationProblem(text: string): string | undefined {
  if (SIMPLE.test(text)) return undefined;
  const tokens = lex(text);
  if (typeof tokens === "string") return tokens;
  return new Recognizer(tokens).configValue()
    ? undefined
    : `no parse of '${text}' in omegaconf's interpolation grammar`;
}

// omegaconf's SIMPLE_INTERPOLATION_PATTERN (ASCII \w and \s), which accepts
// only strings the grammar accepts. Its `{_args}?` makes the last repetition
// lazy rather than the arguments optional: a resolver needs one.
const S = String.raw`[ \t\n\r\f\v]*`;
const KEY = String.raw`[$\w]+`;
const NODE_PATH = String.raw`\.*(?:${KEY}|\[${KEY}\])(?:\.${KEY}|\[${KEY}\])*`;
const NODE_INTER = String.raw`\$\{${S}${NODE_PATH}${S}\}`;
const ID = String.raw`[a-zA-Z_][\w\-]*`;
const ARG = String.raw`[a-zA-Z_0-9/\-+.$%*@?|]+`;
const RESOLVER_INTER = String
  .raw`\$\{${S}(?:${ID}(?:\.${ID})*)?${S}:${S}${ARG}(?:${S},${S}${ARG})*${S}\}`;
const OUTER = String.raw`(?:[^$]|\$(?!\{))+`;
const SIMPLE = new RegExp(
  String.raw`^(?:${OUTER})?(?:(?:${NODE_INTER}|${RESOLVER_INTER})(?:${OUTER})?)+$`,
);

// ---- lexer -----------------------------------------------------------------

type TokenType =
  | "ANY_STR"
  | "ESC_INTER"
  | "TOP_ESC"
  | "INTER_OPEN"
  | "BRACE_OPEN"
  | "BRACE_CLOSE"
  | "QUOTE_OPEN_SINGLE"
  | "QUOTE_OPEN_DOUBLE"
  | "COMMA"
  | "BRACKET_OPEN"
  | "BRACKET_CLOSE"
  | "COLON"
  | "FLOAT"
  | "INT"
  | "BOOL"
  | "NULL"
  | "UNQUOTED_CHAR"
  | "ID"
  | "ESC"
  | "WS"
  | "INTER_CLOSE"
  | "DOT"
  | "INTER_KEY"
  | "MATCHING_QUOTE_CLOSE"
  | "QUOTED_ESC";

type Mode = "top" | "value" | "interpolation" | "single" | "double";

/** What a lexer rule does after matching: emit a token, change modes. */
interface Rule {
  /** Longest match at the sticky regex's lastIndex. */
  patterns: RegExp[];
  type: TokenType;
  push?: Mode;
  pop?: true;
  become?: Mode;
}

function rule(type: TokenType, patterns: string[], action: Partial<Rule> = {}): Rule {
  return { type, patterns: patterns.map((p) => new RegExp(p, "y")), ...action };
}

const WS = "[ \\t]+";
const WS_OPT = "[ \\t]*";
const INT_UNSIGNED = "(?:0|[1-9](?:_?[0-9])*)";
const POINT_FLOAT = [`${INT_UNSIGNED}\\.`, `${INT_UNSIGNED}?\\.[0-9](?:_?[0-9])*`];
const EXPONENT_TAIL = "[eE][+-]?[0-9](?:_?[0-9])*";
const LEX_ID = "[a-zA-Z_][a-zA-Z0-9_\\-]*";

// Per mode, the rules in grammar order: the longest match wins, the first
// rule on a tie (as ANTLR's lexer decides).
const RULES: Record<Mode, Rule[]> = {
  top: [
    rule("INTER_OPEN", [`\\$\\{${WS_OPT}`], { push: "interpolation" }),
    rule("ANY_STR", ["[^$]*[^\\\\$]"]),
    rule("ESC_INTER", ["(?:\\\\\\\\)*\\\\\\$\\{"]),
    rule("TOP_ESC", ["(?:\\\\\\\\)+"]),
    rule("ANY_STR", ["\\\\+"]),
    rule("ANY_STR", ["\\$"]),
  ],
  value: [
    rule("INTER_OPEN", [`\\$\\{${WS_OPT}`], { push: "interpolation" }),
    rule("BRACE_OPEN", [`\\{${WS_OPT}`], { push: "value" }),
    rule("BRACE_CLOSE", [`${WS_OPT}\\}`], { pop: true }),
    rule("QUOTE_OPEN_SINGLE", ["'"], { push: "single" }),
    rule("QUOTE_OPEN_DOUBLE", ['"'], { push: "double" }),
    rule("COMMA", [`${WS_OPT},${WS_OPT}`]),
    rule("BRACKET_OPEN", [`\\[${WS_OPT}`]),
    rule("BRACKET_CLOSE", [`${WS_OPT}\\]`]),
    rule("COLON", [`${WS_OPT}:${WS_OPT}`]),
    rule("FLOAT", [
      ...POINT_FLOAT.map((p) => `[+-]?${p}`),
      ...[INT_UNSIGNED, ...POINT_FLOAT].map((p) => `[+-]?${p}${EXPONENT_TAIL}`),
      "[+-]?[Ii][Nn][Ff]",
      "[+-]?[Nn][Aa][Nn]",
    ]),
    rule("INT", [`[+-]?${INT_UNSIGNED}`]),
    rule("BOOL", ["[Tt][Rr][Uu][Ee]", "[Ff][Aa][Ll][Ss][Ee]"]),
    rule("NULL", ["[Nn][Uu][Ll][Ll]"]),
    rule("UNQUOTED_CHAR", ["[/\\-\\\\+.$%*@?|]"]),
    rule("ID", [LEX_ID]),
    rule("ESC", ["(?:\\\\\\\\|\\\\[()[\\]{}:=, \\t])+"]),
    rule("WS", [WS]),
  ],
  interpolation: [
    rule("INTER_OPEN", [`\\$\\{${WS_OPT}`], { push: "interpolation" }),
    rule("COLON", [`${WS_OPT}:${WS_OPT}`], { become: "value" }),
    rule("INTER_CLOSE", [`${WS_OPT}\\}`], { pop: true }),
    rule("DOT", ["\\."]),
    rule("BRACKET_OPEN", ["\\["]),
    rule("BRACKET_CLOSE", ["\\]"]),
    rule("ID", [LEX_ID]),
    rule("INTER_KEY", ["[^\\\\{}()[\\]:. \\t'\"]+"]),
  ],
  single: quotedRules("'"),
  double: quotedRules('"'),
};

function quotedRules(quote: string): Rule[] {
  return [
    rule("INTER_OPEN", [`\\$\\{${WS_OPT}`], { push: "interpolation" }),
    rule("MATCHING_QUOTE_CLOSE", [quote], { pop: true }),
    rule("ANY_STR", [`[^${quote}$]*[^${quote}\\\\$]`]),
    rule("ESC_INTER", ["(?:\\\\\\\\)*\\\\\\$\\{"]),
    rule("ESC", [`(?:\\\\\\\\)*\\\\${quote}`]),
    rule("QUOTED_ESC", ["(?:\\\\\\\\)+"]),
    rule("ANY_STR", ["\\\\+"]),
    rule("ANY_STR", ["\\$"]),
  ];
}

/** The tokens of `text`, or why it cannot be tokenized. */
function lex(text: string): TokenType[] | string {
  const tokens: TokenType[] = [];
  const stack: Mode[] = [];
  let mode: Mode = "top";
  let at = 0;
  while (at < text.length) {
    let best: Rule | undefined;
    let bestLength = 0;
    for (const candidate of RULES[mode]) {
      for (const pattern of candidate.patterns) {
        pattern.lastIndex = at;
        const match = pattern.exec(text);
        if (match !== null && match[0].length > bestLength) {
          best = candidate;
          bestLength = match[0].length;
        }
      }
    }
    if (best === undefined) return `token recognition error at: '${text.slice(at, at + 1)}'`;
    tokens.push(best.type);
    if (best.push !== undefined) {
      stack.push(mode);
      mode = best.push;
    } else if (best.pop) {
      const previous = stack.pop();
      if (previous === undefined) return "Empty Stack";
      mode = previous;
    } else if (best.become !== undefined) {
      mode = best.become;
    }
    at += bestLength;
  }
  return tokens;
}

// ---- parser ----------------------------------------------------------------

const TEXT_TOKENS = new Set<TokenType>(["ANY_STR", "ESC", "ESC_INTER", "TOP_ESC", "QUOTED_ESC"]);
const PRIMITIVE_TOKENS = new Set<TokenType>([
  "ID",
  "NULL",
  "INT",
  "FLOAT",
  "BOOL",
  "UNQUOTED_CHAR",
  "COLON",
  "ESC",
  "WS",
]);
const DICT_KEY_TOKENS = new Set<TokenType>([
  "ID",
  "NULL",
  "INT",
  "FLOAT",
  "BOOL",
  "UNQUOTED_CHAR",
  "ESC",
  "WS",
]);

const CONFIG_KEY_TOKENS = new Set<TokenType>(["ID", "INTER_KEY"]);
const ID_TOKEN = new Set<TokenType>(["ID"]);

type Ends = ReadonlySet<number>;
const NONE: Ends = new Set();

/**
 * The parser rules as a recognizer: each rule maps a start position to
 * every position where a match can end, so the grammar's choices need no
 * lookahead decisions. Results are memoized per rule and position.
 */
class Recognizer {
  readonly #tokens: TokenType[];
  readonly #memo = new Map<string, Ends>();

  constructor(tokens: TokenType[]) {
    this.#tokens = tokens;
  }

  configValue(): boolean {
    return this.#text(0).has(this.#tokens.length);
  }

  #is(at: number, type: TokenType): boolean {
    return this.#tokens[at] === type;
  }

  #memoized(name: string, at: number, compute: () => Ends): Ends {
    const key = `${name}:${at}`;
    const found = this.#memo.get(key);
    if (found !== undefined) return found;
    // A rule re-entered at the same position (left recursion) matches nothing there.
    this.#memo.set(key, NONE);
    const ends = compute();
    this.#memo.set(key, ends);
    return ends;
  }

  // Ends of one or more repetitions of `item` from `at`.
  #repeat(at: number, item: (at: number) => Ends): Ends {
    const ends = new Set<number>();
    const todo = [at];
    while (todo.length > 0) {
      for (const end of item(todo.pop()!)) {
        if (!ends.has(end)) {
          ends.add(end);
          todo.push(end);
        }
      }
    }
    return ends;
  }

  #token(at: number, types: ReadonlySet<TokenType>): Ends {
    return types.has(this.#tokens[at]) ? new Set([at + 1]) : NONE;
  }

  // text: (interpolation | ANY_STR | ESC | ESC_INTER | TOP_ESC | QUOTED_ESC)+
  #text(at: number): Ends {
    return this.#memoized(
      "text",
      at,
      () => this.#repeat(at, (p) => union(this.#interpolation(p), this.#token(p, TEXT_TOKENS))),
    );
  }

  // interpolation: interpolationNode | interpolationResolver
  #interpolation(at: number): Ends {
    return this.#memoized(
      "interpolation",
      at,
      () => union(this.#interpolationNode(at), this.#interpolationResolver(at)),
    );
  }

  // INTER_OPEN DOT* (configKey | [configKey]) (DOT configKey | [configKey])* INTER_CLOSE
  #interpolationNode(at: number): Ends {
    if (!this.#is(at, "INTER_OPEN")) return NONE;
    let p = at + 1;
    while (this.#is(p, "DOT")) p++;
    const first = union(this.#configKey(p), this.#bracketed(p));
    const ends = new Set<number>();
    for (const start of union(first, this.#repeatFrom(first, (q) => this.#keyAccess(q)))) {
      if (this.#is(start, "INTER_CLOSE")) ends.add(start + 1);
    }
    return ends;
  }

  // Ends after zero or more further `item`s from any of `starts` (the starts excluded).
  #repeatFrom(starts: Ends, item: (at: number) => Ends): Ends {
    const ends = new Set<number>();
    for (const start of starts) for (const end of this.#repeat(start, item)) ends.add(end);
    return ends;
  }

  // DOT configKey | BRACKET_OPEN configKey BRACKET_CLOSE
  #keyAccess(at: number): Ends {
    return union(this.#is(at, "DOT") ? this.#configKey(at + 1) : NONE, this.#bracketed(at));
  }

  #bracketed(at: number): Ends {
    if (!this.#is(at, "BRACKET_OPEN")) return NONE;
    const ends = new Set<number>();
    for (const end of this.#configKey(at + 1)) {
      if (this.#is(end, "BRACKET_CLOSE")) ends.add(end + 1);
    }
    return ends;
  }

  // configKey: interpolation | ID | INTER_KEY
  #configKey(at: number): Ends {
    return union(this.#interpolation(at), this.#token(at, CONFIG_KEY_TOKENS));
  }

  // INTER_OPEN resolverName COLON sequence? BRACE_CLOSE
  #interpolationResolver(at: number): Ends {
    if (!this.#is(at, "INTER_OPEN")) return NONE;
    const ends = new Set<number>();
    for (const name of this.#resolverName(at + 1)) {
      if (!this.#is(name, "COLON")) continue;
      for (const end of union(new Set([name + 1]), this.#sequence(name + 1))) {
        if (this.#is(end, "BRACE_CLOSE")) ends.add(end + 1);
      }
    }
    return ends;
  }

  // resolverName: (interpolation | ID) (DOT (interpolation | ID))*
  #resolverName(at: number): Ends {
    const part = (p: number) => union(this.#interpolation(p), this.#token(p, ID_TOKEN));
    const first = part(at);
    const more = this.#repeatFrom(first, (p) => this.#is(p, "DOT") ? part(p + 1) : NONE);
    return union(first, more);
  }

  // sequence: (element (COMMA element?)*) | (COMMA element?)+
  #sequence(at: number): Ends {
    return this.#memoized("sequence", at, () => {
      const commaThenMaybe = (p: number): Ends => {
        if (!this.#is(p, "COMMA")) return NONE;
        return union(new Set([p + 1]), this.#element(p + 1));
      };
      const first = this.#element(at);
      const withElement = union(first, this.#repeatFrom(first, commaThenMaybe));
      return union(withElement, this.#repeat(at, commaThenMaybe));
    });
  }

  // element: primitive | quotedValue | listContainer | dictContainer
  #element(at: number): Ends {
    return this.#memoized("element", at, () =>
      union(
        union(this.#primitive(at), this.#quotedValue(at)),
        union(this.#listContainer(at), this.#dictContainer(at)),
      ));
  }

  // primitive: (ID | NULL | INT | FLOAT | BOOL | UNQUOTED_CHAR | COLON | ESC | WS | interpolation)+
  #primitive(at: number): Ends {
    return this.#memoized(
      "primitive",
      at,
      () =>
        this.#repeat(at, (p) => union(this.#token(p, PRIMITIVE_TOKENS), this.#interpolation(p))),
    );
  }

  // (QUOTE_OPEN_SINGLE | QUOTE_OPEN_DOUBLE) text? MATCHING_QUOTE_CLOSE
  #quotedValue(at: number): Ends {
    if (!this.#is(at, "QUOTE_OPEN_SINGLE") && !this.#is(at, "QUOTE_OPEN_DOUBLE")) return NONE;
    const ends = new Set<number>();
    for (const end of union(new Set([at + 1]), this.#text(at + 1))) {
      if (this.#is(end, "MATCHING_QUOTE_CLOSE")) ends.add(end + 1);
    }
    return ends;
  }

  // BRACKET_OPEN sequence? BRACKET_CLOSE
  #listContainer(at: number): Ends {
    if (!this.#is(at, "BRACKET_OPEN")) return NONE;
    const ends = new Set<number>();
    for (const end of union(new Set([at + 1]), this.#sequence(at + 1))) {
      if (this.#is(end, "BRACKET_CLOSE")) ends.add(end + 1);
    }
    return ends;
  }

  // BRACE_OPEN (dictKeyValuePair (COMMA dictKeyValuePair)*)? BRACE_CLOSE
  #dictContainer(at: number): Ends {
    if (!this.#is(at, "BRACE_OPEN")) return NONE;
    const first = this.#pair(at + 1);
    const pairs = union(
      first,
      this.#repeatFrom(first, (p) => this.#is(p, "COMMA") ? this.#pair(p + 1) : NONE),
    );
    const ends = new Set<number>();
    for (const end of union(new Set([at + 1]), pairs)) {
      if (this.#is(end, "BRACE_CLOSE")) ends.add(end + 1);
    }
    return ends;
  }

  // dictKeyValuePair: dictKey COLON element, dictKey: (ID | NULL | ... | WS)+
  #pair(at: number): Ends {
    const ends = new Set<number>();
    for (const key of this.#repeat(at, (p) => this.#token(p, DICT_KEY_TOKENS))) {
      if (this.#is(key, "COLON")) { for (const end of this.#element(key + 1)) ends.add(end); }
    }
    return ends;
  }
}

function union(a: Ends, b: Ends): Ends {
  if (a.size === 0) return b;
  if (b.size === 0) return a;
  return new Set([...a, ...b]);
}
