/** The names one node type gives its files and symbols in each language. */
export interface NodeNames {
  /** The node type, e.g. "py.word-count". */
  type: string;
  /** The part after the last dot, e.g. "word-count": TypeScript file names. */
  kebab: string;
  /** "wordCount": the TypeScript export. */
  camel: string;
  /** "word_count": Python and Rust modules and functions. */
  snake: string;
  /** "WordCount": the Rust struct and Python output type. */
  pascal: string;
  /** "Word count": the node type's title. */
  title: string;
}

/** The node type names defineNode accepts (sdk-ts/src/node/define-node.ts), so every language accepts them too. */
const TYPE_PATTERN = /^[a-z][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)+$/;

/** Words no language of a scaffold accepts as a function or module name (Python, Rust and JavaScript keywords). */
const RESERVED = new Set(
  (
    "and as assert async await break case catch class const continue crate debugger def default del delete do dyn " +
    "elif else enum except export extends false finally fn for from function global if impl import in instanceof " +
    "is lambda let loop match mod move mut new none nonlocal not null or pass pub raise ref return self static " +
    "struct super switch this throw trait true try type typeof unsafe use var void where while with yield"
  ).split(" "),
);

/**
 * Derives the file and symbol names of a new node from its type, for `conductor new node` and `conductor init`.
 * Throws a message for the person at the keyboard when the type is not a valid node type name, or its last part
 * cannot name a symbol (it must start with a letter).
 */
export function nodeNames(type: string): NodeNames {
  if (!TYPE_PATTERN.test(type)) {
    throw new Error(
      `"${type}" is not a node type name; expected "<namespace>.<name>" in lowercase letters, digits and dashes, e.g. "py.word-count"`,
    );
  }
  const kebab = type.slice(type.lastIndexOf(".") + 1);
  if (!/^[a-z]/.test(kebab)) {
    throw new Error(
      `node type "${type}": its last part "${kebab}" names the files and functions of the node, so it must start with a letter`,
    );
  }
  if (RESERVED.has(kebab.replaceAll("-", "_"))) {
    throw new Error(
      `node type "${type}": its last part "${kebab}" is a keyword of Python, Rust or JavaScript and cannot name the node's function; pick another name`,
    );
  }
  const words = kebab.split("-").filter((word) => word !== "");
  const capitalised = words.map((word) => word[0]!.toUpperCase() + word.slice(1));
  return {
    type,
    kebab,
    camel: words[0]! + capitalised.slice(1).join(""),
    snake: words.join("_"),
    pascal: capitalised.join(""),
    title: capitalised.join(" ").replace(/(?<= )\w/g, (letter) => letter.toLowerCase()),
  };
}
