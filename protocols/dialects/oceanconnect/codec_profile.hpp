// OceanConnect's "codec plug-in" (../shared/protocols/oceanconnect.md, the LiteOS manual's
// "Creating a Codec Plug-in") as a declarative per-product JSON profile: it maps the raw bytes a
// device reports on /19/0/0 to `{"<serviceId>":{"<property>":value}}`, a northbound command
// `{serviceId, method, paras}` to the bytes written to /19/1/0, and a device's command response
// to {mid, result} → SUCCESSFUL / FAILED. The format is documented in docs/dialects/oceanconnect.md.
// Pure: parsing and coding never throw on bad input; errors name the JSON path or the field.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "protocols/common/expected.hpp"

namespace fc::oceanconnect {

/// Field types of the profile: big-endian integers, IEEE 754 binary32, and byte runs shown in
/// JSON as a string (UTF-8, NUL-padded when fixed-length), upper-case hex, or base64.
enum class FieldType : std::uint8_t { Uint8, Uint16, Uint32, Int8, Int16, Int32, Float32, String, Hex, Bytes };

/// "uint8", …, "float32", "string", "hex", "bytes" (the spelling in the profile JSON).
std::string_view fieldTypeName(FieldType t) noexcept;

/// One property / para / result at a byte offset.
struct Field {
  std::string name;
  FieldType type = FieldType::Uint8;
  std::size_t offset = 0;
  /// Byte length: implied by numeric types; for string/hex/bytes the fixed length, or nullopt for
  /// "up to the end of the message" (allowed only for the last field of a message).
  std::optional<std::size_t> length;
  std::optional<double> min;  ///< numeric paras only: inclusive bounds checked when encoding
  std::optional<double> max;
  bool operator==(const Field&) const = default;
};

/// A data report: the bytes of one uplink message fill the properties of one service.
struct UplinkMessage {
  std::string serviceId;
  std::optional<std::uint8_t> messageId;  ///< required when the profile has messageIdOffset
  std::vector<Field> properties;
  bool operator==(const UplinkMessage&) const = default;
};

/// A command: (serviceId, method) → a message carrying its paras (and optionally its mid).
struct CommandMessage {
  std::string serviceId;
  std::string method;
  std::optional<std::uint8_t> messageId;
  std::optional<std::size_t> midOffset;  ///< where the 16-bit big-endian mid is written
  std::vector<Field> paras;
  bool operator==(const CommandMessage&) const = default;
};

/// The device's answer to a command: the mid it answers and a result code.
struct ResponseMessage {
  std::optional<std::uint8_t> messageId;
  std::optional<std::size_t> midOffset;
  std::size_t resultOffset = 0;
  FieldType resultType = FieldType::Uint8;      ///< an integer type
  std::vector<std::int64_t> successResults{0};  ///< results that mean SUCCESSFUL; others FAILED
  bool operator==(const ResponseMessage&) const = default;
};

/// Why a profile is invalid, and where: `path` is a JSON Pointer (RFC 6901) into the profile,
/// e.g. "/commands/0/paras/1/offset".
enum class ProfileErrc : std::uint8_t {
  BadJson = 1,        ///< the text is not JSON
  WrongType,          ///< a value of the wrong JSON type (an object expected, a string, …)
  MissingKey,         ///< a required key is absent
  UnknownKey,         ///< a key the format does not define (a typo would otherwise be silently ignored)
  BadValue,           ///< an unknown field type, a negative offset, min > max, a length on a numeric type, …
  Duplicate,          ///< a repeated field name, message id, or (serviceId, method)
  Overlap,            ///< two fields (or a field and the message id / mid / result) share bytes
  VariableNotLast,    ///< an up-to-the-end field is followed by another field
  MessageIdRequired,  ///< uplink messages cannot be told apart without messageIdOffset and messageId
  MessageIdUnused,    ///< a messageId without messageIdOffset
};

struct ProfileError {
  ProfileErrc code = ProfileErrc::BadValue;
  std::string path;
  std::string detail;
  bool operator==(const ProfileError&) const = default;
  /// "/uplink/0/properties/0/type: bad value: unknown field type \"u8\"".
  [[nodiscard]] std::string message() const;
};

/// Why bytes or a command could not be coded; `detail` names the field, message or para.
enum class CodecErrc : std::uint8_t {
  Truncated = 1,     ///< the bytes end before a field of the message
  TrailingBytes,     ///< bytes after the last field of a fixed-length message
  UnknownMessageId,  ///< no uplink or response message has this id
  NoSuchMessage,     ///< the profile has no uplink / command response message
  UnknownCommand,    ///< no command (serviceId, method)
  ParasNotObject,    ///< paras is not a JSON object
  MissingPara,       ///< a para of the command is absent
  UnknownPara,       ///< a para the command does not define
  WrongParaType,     ///< a number expected and something else given, or a string for string/hex/bytes
  OutOfRange,        ///< outside the type's range or the field's min/max
  TooLong,           ///< a string/hex/bytes value longer than the field
  BadEncoding,       ///< a hex para that is not hex, a bytes para that is not base64, a string field not UTF-8
};

struct CodecError {
  CodecErrc code = CodecErrc::Truncated;
  std::string detail;
  bool operator==(const CodecError&) const = default;
  [[nodiscard]] std::string message() const;
};

const std::error_category& profileCategory() noexcept;
const std::error_category& codecCategory() noexcept;
std::error_code make_error_code(ProfileErrc e) noexcept;
std::error_code make_error_code(CodecErrc e) noexcept;

/// A decoded command response. OceanConnect marks the command SUCCESSFUL when `success`, else
/// FAILED ("the execution results contain ERROR CODE", LiteOS manual).
struct CommandResponse {
  std::optional<std::uint16_t> mid;
  std::int64_t result = 0;
  bool success = false;
  bool operator==(const CommandResponse&) const = default;
};

/// What an uplink payload is, by its message id.
enum class UplinkKind : std::uint8_t { Data, CommandResponse };

class CodecProfile {
 public:
  /// Validates a profile (see docs/dialects/oceanconnect.md); never throws.
  [[nodiscard]] static Expected<CodecProfile, ProfileError> parse(const nlohmann::json& profile);
  [[nodiscard]] static Expected<CodecProfile, ProfileError> parse(std::string_view jsonText);

  /// Whether `bytes` is a data report or a command response. Without messageIdOffset a profile has
  /// one kind of uplink, so that kind is the answer.
  [[nodiscard]] Expected<UplinkKind, CodecError> classify(std::span<const std::uint8_t> bytes) const;
  /// A data report → `{"<serviceId>":{"<property>":value,…}}`.
  [[nodiscard]] Expected<nlohmann::json, CodecError> decodeUplink(std::span<const std::uint8_t> bytes) const;
  /// A command → its bytes; fields the command does not define are zero. `mid` is written when
  /// the command has a midOffset.
  [[nodiscard]] Expected<std::vector<std::uint8_t>, CodecError> encodeCommand(std::string_view serviceId,
                                                                              std::string_view method,
                                                                              const nlohmann::json& paras,
                                                                              std::uint16_t mid) const;
  /// A command response → {mid, result, success}.
  [[nodiscard]] Expected<CommandResponse, CodecError> decodeCommandResponse(std::span<const std::uint8_t> bytes) const;

  [[nodiscard]] std::optional<std::size_t> messageIdOffset() const noexcept { return messageIdOffset_; }
  [[nodiscard]] const std::vector<UplinkMessage>& uplinks() const noexcept { return uplinks_; }
  [[nodiscard]] const std::vector<CommandMessage>& commands() const noexcept { return commands_; }
  [[nodiscard]] const std::optional<ResponseMessage>& commandResponse() const noexcept { return response_; }
  [[nodiscard]] const CommandMessage* findCommand(std::string_view serviceId, std::string_view method) const noexcept;

 private:
  friend class ProfileParser;
  std::optional<std::size_t> messageIdOffset_;
  std::vector<UplinkMessage> uplinks_;
  std::vector<CommandMessage> commands_;
  std::optional<ResponseMessage> response_;
};

}  // namespace fc::oceanconnect

template <>
struct std::is_error_code_enum<fc::oceanconnect::ProfileErrc> : std::true_type {};
template <>
struct std::is_error_code_enum<fc::oceanconnect::CodecErrc> : std::true_type {};
