/* c.increment: the least a node can do, in C compiled to WebAssembly; the benchmarks measure the cost of a call
 * with it (bench/src/scenarios/wasm.ts). */
#include "../include/conductor_node.h"

/* Inputs: x (a number). Outputs: x + 1. */
CONDUCTOR_NODE(increment) {
  double x = conductor_number(request, length, "x", 0);
  char text[48];
  snprintf(text, sizeof text, "{\"x\":%.17g}", x + 1);
  return conductor_outputs(text);
}
