// libFuzzer target for fc::lwm2m::decodeSenmlJson. Besides "no crash, no UB" (ASan/UBSan) it checks
// on every input that a decoded pack holds only valid resolved names, and that encoding it and
// decoding again gives the same records (when every number is finite: JSON has no infinity, and a
// base value or base time can overflow a finite one).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

#include "protocols/lwm2m/senml.hpp"

namespace {

namespace lwm2m = fc::lwm2m;

[[noreturn]] void fail() { std::abort(); }

bool finite(const lwm2m::SenmlRecord& r) {
  if (r.time && !std::isfinite(*r.time)) return false;
  const auto* d = std::get_if<double>(&r.value);
  return !d || std::isfinite(*d);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto records = lwm2m::decodeSenmlJson(text);
  if (!records) return 0;
  bool allFinite = true;
  for (const auto& r : *records) {
    if (r.name.empty()) fail();
    allFinite = allFinite && finite(r);
  }
  const auto again = lwm2m::decodeSenmlJson(lwm2m::encodeSenmlJson(*records));
  if (allFinite && (!again || *again != *records)) fail();
  return 0;
}
