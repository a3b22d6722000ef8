// cpp.crc32 and cpp.box-blur: Conductor nodes in C++ compiled to WebAssembly (docs/webassembly.md).
#include <array>
#include <cstdint>
#include <cstring>
#include <string>

#include "../include/conductor_node.h"

namespace {

// CRC-32 (IEEE 802.3, the zlib/PNG polynomial), slicing by 8: eight table lookups per 8 bytes.
struct Crc32Tables {
  std::array<std::array<uint32_t, 256>, 8> table{};
  constexpr Crc32Tables() {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t crc = i;
      for (int bit = 0; bit < 8; bit++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
      table[0][i] = crc;
    }
    for (uint32_t i = 0; i < 256; i++)
      for (int slice = 1; slice < 8; slice++)
        table[slice][i] = (table[slice - 1][i] >> 8) ^ table[0][table[slice - 1][i] & 0xFF];
  }
};

constexpr Crc32Tables kTables{};

uint32_t crc32(const uint8_t* data, size_t size) {
  const auto& t = kTables.table;
  uint32_t crc = 0xFFFFFFFFu;
  while (size >= 8) {
    uint32_t low;
    uint32_t high;
    std::memcpy(&low, data, 4);
    std::memcpy(&high, data + 4, 4);
    low ^= crc;
    crc = t[7][low & 0xFF] ^ t[6][(low >> 8) & 0xFF] ^ t[5][(low >> 16) & 0xFF] ^ t[4][low >> 24] ^
          t[3][high & 0xFF] ^ t[2][(high >> 8) & 0xFF] ^ t[1][(high >> 16) & 0xFF] ^ t[0][high >> 24];
    data += 8;
    size -= 8;
  }
  while (size-- > 0) crc = (crc >> 8) ^ t[0][(crc ^ *data++) & 0xFF];
  return crc ^ 0xFFFFFFFFu;
}

}  // namespace

// Inputs: data (bytes). Outputs: crc32 (the checksum as an unsigned integer) and size (bytes read).
CONDUCTOR_NODE(crc32_node) {
  const uint8_t* data = nullptr;
  size_t size = 0;
  if (!conductor_bytes(request, length, "data", &data, &size))
    return conductor_failure("cpp.input", "input data is not bytes");
  std::string outputs = "{\"crc32\":" + std::to_string(crc32(data, size)) + ",\"size\":" + std::to_string(size) + "}";
  return conductor_outputs(outputs.c_str());
}

// A 3x3 box blur over an 8-bit grayscale image. Inputs: pixels (bytes, width*height). Config: width, height.
// Outputs: pixels (bytes), the blurred image.
CONDUCTOR_NODE(box_blur_node) {
  const uint8_t* pixels = nullptr;
  size_t size = 0;
  if (!conductor_bytes(request, length, "pixels", &pixels, &size))
    return conductor_failure("cpp.input", "input pixels is not bytes");
  const long width = static_cast<long>(conductor_number(request, length, "width", 0));
  const long height = static_cast<long>(conductor_number(request, length, "height", 0));
  if (width <= 0 || height <= 0 || static_cast<size_t>(width * height) != size)
    return conductor_failure("cpp.config", "config width * height must equal the number of pixels");
  auto* out = static_cast<uint8_t*>(std::malloc(size));
  if (out == nullptr) return conductor_failure("cpp.memory", "cannot allocate the output image");
  for (long y = 0; y < height; y++) {
    for (long x = 0; x < width; x++) {
      unsigned sum = 0;
      unsigned count = 0;
      for (long dy = -1; dy <= 1; dy++)
        for (long dx = -1; dx <= 1; dx++) {
          const long nx = x + dx;
          const long ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
          sum += pixels[ny * width + nx];
          count++;
        }
      out[y * width + x] = static_cast<uint8_t>(sum / count);
    }
  }
  std::string outputs = "{\"pixels\":{\"$bytes\":{\"ptr\":" + std::to_string(reinterpret_cast<uintptr_t>(out)) +
                        ",\"len\":" + std::to_string(size) + "}}}";
  return conductor_outputs(outputs.c_str());
}
