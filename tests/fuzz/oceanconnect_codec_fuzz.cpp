// libFuzzer target for the OceanConnect codec profile. The input is used three ways:
//   - as uplink bytes against a fixed multi-message profile: classify, decodeUplink and
//     decodeCommandResponse must agree (a data report is not a response and vice versa, and a
//     decoded report holds exactly the properties of one service);
//   - as JSON paras for every command of that profile: an encoded command has the command's
//     message id and mid where the profile puts them, and every parameter's value at its offset in
//     its type's big-endian bytes (strings NUL-padded to their length, hex and base64 decoded), and
//     nothing after the last one;
//   - as a profile text: parsing never crashes, and a profile that parses decodes the input too.
#include <nlohmann/json.hpp>

#include <bit>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>
#include <vector>

#include "protocols/common/base64.hpp"
#include "protocols/dialects/oceanconnect/codec_profile.hpp"

namespace {

namespace oc = fc::oceanconnect;

[[noreturn]] void fail() { std::abort(); }

constexpr std::string_view kProfile = R"({
  "messageIdOffset": 0,
  "uplink": [
    {"serviceId": "Sensor", "messageId": 0, "properties": [
      {"name": "temperature", "type": "int16", "offset": 1},
      {"name": "humidity", "type": "uint8", "offset": 3},
      {"name": "voltage", "type": "float32", "offset": 4},
      {"name": "label", "type": "string", "offset": 8, "length": 4},
      {"name": "raw", "type": "hex", "offset": 12, "length": 2},
      {"name": "tail", "type": "bytes", "offset": 14}]},
    {"serviceId": "Note", "messageId": 1, "properties": [
      {"name": "text", "type": "string", "offset": 1}]}
  ],
  "commands": [
    {"serviceId": "LightControl", "method": "SET_LIGHT", "messageId": 2, "midOffset": 1,
     "paras": [{"name": "light", "type": "uint8", "offset": 3, "max": 1}]},
    {"serviceId": "Motor", "method": "MOVE", "messageId": 5, "midOffset": 1,
     "paras": [{"name": "speed", "type": "int32", "offset": 3, "min": -1000, "max": 1000},
               {"name": "gain", "type": "float32", "offset": 7},
               {"name": "tag", "type": "string", "offset": 11, "length": 3},
               {"name": "key", "type": "hex", "offset": 14, "length": 2},
               {"name": "blob", "type": "bytes", "offset": 16}]}
  ],
  "commandResponse": {"messageId": 3, "midOffset": 1, "resultOffset": 3, "resultType": "int16"}
})";

const oc::CodecProfile& fixedProfile() {
  static const oc::CodecProfile profile = *oc::CodecProfile::parse(kProfile);
  return profile;
}

void decodeAll(const oc::CodecProfile& p, std::span<const std::uint8_t> in) {
  const auto kind = p.classify(in);
  const auto data = p.decodeUplink(in);
  const auto response = p.decodeCommandResponse(in);
  if (kind && *kind == oc::UplinkKind::Data && response && p.messageIdOffset()) fail();
  if (kind && *kind == oc::UplinkKind::CommandResponse && data && p.messageIdOffset()) fail();
  if (data) {
    if (!data->is_object() || data->size() != 1) fail();
    if (kind && *kind != oc::UplinkKind::Data) fail();
  }
  if (response && response->success && response->result != 0 && &p == &fixedProfile()) fail();
}

std::uint64_t bigEndian(const std::vector<std::uint8_t>& b, std::size_t offset, std::size_t size) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < size; ++i) v = (v << 8) | b[offset + i];
  return v;
}

std::vector<std::uint8_t> hexBytes(std::string_view s) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < s.size(); i += 2) {
    std::uint8_t v = 0;
    std::from_chars(s.data() + i, s.data() + i + 2, v, 16);
    out.push_back(v);
  }
  return out;
}

bool sameBytes(const std::vector<std::uint8_t>& b, std::size_t offset, std::vector<std::uint8_t> want,
               std::size_t padTo) {
  if (want.size() < padTo) want.resize(padTo, 0);
  if (b.size() < offset + want.size()) return false;
  return std::equal(want.begin(), want.end(), b.begin() + static_cast<std::ptrdiff_t>(offset));
}

// Where each parameter of the fixed profile's commands must land, computed here from the profile's
// text rather than by the codec's own layout code.
void checkPlacement(std::string_view method, const nlohmann::json& paras, const std::vector<std::uint8_t>& b) {
  if (method == "SET_LIGHT") {
    if (b.size() != 4 || b[3] != static_cast<std::uint8_t>(paras["light"].get<double>())) fail();
    return;
  }
  // MOVE: speed int32 @3, gain float32 @7, tag string(3) @11, key hex(2) @14, blob bytes @16…
  const auto speed = static_cast<std::int32_t>(static_cast<std::uint32_t>(bigEndian(b, 3, 4)));
  if (static_cast<double>(speed) != paras["speed"].get<double>()) fail();
  const auto gain = std::bit_cast<float>(static_cast<std::uint32_t>(bigEndian(b, 7, 4)));
  if (std::bit_cast<std::uint32_t>(gain) !=
      std::bit_cast<std::uint32_t>(static_cast<float>(paras["gain"].get<double>())))
    fail();
  const auto& tag = paras["tag"].get_ref<const std::string&>();
  if (!sameBytes(b, 11, {tag.begin(), tag.end()}, 3)) fail();
  if (!sameBytes(b, 14, hexBytes(paras["key"].get<std::string>()), 2)) fail();
  const auto blob = fc::base64Decode(paras["blob"].get<std::string>());
  if (!blob || b.size() != 16 + blob->size() || !sameBytes(b, 16, *blob, 0)) fail();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> in(data, size);
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto& p = fixedProfile();
  decodeAll(p, in);

  const auto paras = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (!paras.is_discarded()) {
    for (const auto& c : p.commands()) {
      auto bytes = p.encodeCommand(c.serviceId, c.method, paras, 0xBEEF);
      if (!bytes) continue;
      if (bytes->size() < 3 || (*bytes)[0] != c.messageId || (*bytes)[1] != 0xBE || (*bytes)[2] != 0xEF) fail();
      checkPlacement(c.method, paras, *bytes);
    }
  }

  if (auto parsed = oc::CodecProfile::parse(text)) decodeAll(*parsed, in);
  return 0;
}
