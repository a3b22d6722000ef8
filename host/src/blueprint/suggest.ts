/** Suggests the closest of `candidates` to a misspelt `name`, as `did you mean "x"?`, or undefined (the SDK's). */
export { didYouMean as suggest } from "@conductor/sdk";
