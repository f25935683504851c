// Test support: the codec profile of docs/dialects/oceanconnect.md "Several messages, mids and command
// responses": uplink Sensor (id 0) and LightControl (id 1), command SET_LIGHT (id 2, mid at 1, light
// at 3), command response (id 3, mid at 1, result at 3).
#pragma once

namespace fc::test {

inline constexpr const char* kLedMidProfile = R"({
  "messageIdOffset": 0,
  "uplink": [
    {"serviceId": "Sensor", "messageId": 0, "properties": [{"name": "temperature", "type": "int16", "offset": 1}]},
    {"serviceId": "LightControl", "messageId": 1, "properties": [{"name": "light", "type": "uint8", "offset": 1}]}],
  "commands": [{"serviceId": "LightControl", "method": "SET_LIGHT", "messageId": 2, "midOffset": 1,
                "paras": [{"name": "light", "type": "uint8", "offset": 3, "max": 1}]}],
  "commandResponse": {"messageId": 3, "midOffset": 1, "resultOffset": 3, "resultType": "uint8", "successResults": [0]}
})";

}  // namespace fc::test
