/*
 * conductor_node.h: the Conductor WebAssembly ABI for C and C++ node authors (docs/webassembly.md).
 *
 * A module exports `conductor_alloc` (defined here) and one function per node type,
 *   CONDUCTOR_NODE(my_node) { ... return conductor_outputs("{\"n\": 1}"); }
 * which receives the request as JSON text ({"config": {...}, "inputs": {...}}) and returns the answer's address
 * and length packed into a 64-bit integer. Bytes inputs arrive as {"$bytes": {"ptr": p, "len": n}} pointing into
 * this module's memory. Build with clang --target=wasm32-wasi -mexec-model=reactor (scripts/setup-wasm.sh).
 *
 * The readers below are deliberately small: they find a field by name in the request, which is enough for
 * flat configs and inputs; a node with nested data should use a JSON library.
 */
#ifndef CONDUCTOR_NODE_H
#define CONDUCTOR_NODE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
#define CONDUCTOR_EXTERN extern "C"
#else
#define CONDUCTOR_EXTERN
#endif

#define CONDUCTOR_NODE(name)                                                                        \
  static uint64_t name##_impl(const char* request, size_t length);                                   \
  CONDUCTOR_EXTERN __attribute__((export_name(#name))) uint64_t name(uint32_t request, uint32_t length) { \
    return name##_impl((const char*)(uintptr_t)request, length);                                     \
  }                                                                                                  \
  static uint64_t name##_impl(const char* request, size_t length)

/* Memory for the host to write the request (and bytes inputs) into. */
CONDUCTOR_EXTERN __attribute__((export_name("conductor_alloc"))) uint32_t conductor_alloc(uint32_t size) {
  return (uint32_t)(uintptr_t)malloc(size == 0 ? 1 : size);
}

/* Returns JSON text the host reads as the answer (copied, so a temporary may be passed). */
static inline uint64_t conductor_answer(const char* json, size_t length) {
  char* copy = (char*)malloc(length == 0 ? 1 : length);
  if (copy == NULL) return 0;
  memcpy(copy, json, length);
  return ((uint64_t)(uintptr_t)copy << 32) | (uint64_t)length;
}

/* {"outputs": <outputs>} from a JSON object's text. */
static inline uint64_t conductor_outputs(const char* outputs_json) {
  size_t length = strlen(outputs_json);
  char* text = (char*)malloc(length + 16);
  if (text == NULL) return 0;
  int written = snprintf(text, length + 16, "{\"outputs\":%s}", outputs_json);
  uint64_t answer = conductor_answer(text, (size_t)written);
  free(text);
  return answer;
}

/* {"failure": {"message": ..., "type": ...}}; message must not contain quotes or backslashes. */
static inline uint64_t conductor_failure(const char* type, const char* message) {
  size_t length = strlen(type) + strlen(message) + 48;
  char* text = (char*)malloc(length);
  if (text == NULL) return 0;
  int written = snprintf(text, length, "{\"failure\":{\"type\":\"%s\",\"message\":\"%s\"}}", type, message);
  uint64_t answer = conductor_answer(text, (size_t)written);
  free(text);
  return answer;
}

/* Where "name": starts in the request, or NULL (a key search: names must be unique in the request). */
static inline const char* conductor_field(const char* request, size_t length, const char* name) {
  size_t name_length = strlen(name);
  for (size_t at = 0; at + name_length + 3 <= length; at++) {
    if (request[at] == '"' && memcmp(request + at + 1, name, name_length) == 0 &&
        request[at + 1 + name_length] == '"' && request[at + 2 + name_length] == ':')
      return request + at + 3 + name_length;
  }
  return NULL;
}

/* A number field, or `fallback` when absent. */
static inline double conductor_number(const char* request, size_t length, const char* name, double fallback) {
  const char* at = conductor_field(request, length, name);
  return at == NULL ? fallback : strtod(at, NULL);
}

/* A bytes input: sets *data and *size and returns 1, or returns 0 when the port holds no bytes. */
static inline int conductor_bytes(const char* request, size_t length, const char* port, const uint8_t** data,
                                  size_t* size) {
  const char* at = conductor_field(request, length, port);
  if (at == NULL || strncmp(at, "{\"$bytes\":{\"ptr\":", 17) != 0) return 0;
  char* end = NULL;
  unsigned long pointer = strtoul(at + 17, &end, 10);
  if (end == NULL || strncmp(end, ",\"len\":", 7) != 0) return 0;
  *data = (const uint8_t*)(uintptr_t)pointer;
  *size = (size_t)strtoul(end + 7, NULL, 10);
  return 1;
}

#endif
