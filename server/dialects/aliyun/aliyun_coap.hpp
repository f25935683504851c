// The aliyun dialect's CoAP channel, on the CoAP endpoint (docs/dialects/aliyun.md, "CoAP channel";
// ../shared/protocols/aliyun.md "CoAP"), as iotkit-embedded's IOT_CoAP_DeviceNameAuth and
// IOT_CoAP_SendMessage use it:
//   CON POST /auth  CF 50, Accept 50, {"productKey","deviceName","clientId","sign"[,"signmethod","timestamp"]}
//                   → 2.05 CF 50 {"token":"…"}; not a JSON object or a field missing → 4.00;
//                   unknown device or bad sign → 4.01
//   CON POST /topic/{pk}/{dn}/…  with the token in option 2088 (SDK ≤ v2.10: option 61)
//                   → 2.05, and the message is handled like the HTTP channel's /topic (transport
//                   "coap", or "coaps" over DTLS); no, unknown or expired token → 4.01 (the SDK signs in again on 4.01
//                   and 4.02); a topic the device may not publish to → 4.03
// Both exchanges of a known device go to its journal with that transport.
#pragma once

#include <cstdint>
#include <vector>

#include "protocols/coap/endpoint.hpp"
#include "server/core/platform.hpp"
#include "server/dialects/aliyun/aliyun.hpp"

namespace fc::server::dialects {

/// The option that carries the auth token (iotkit-embedded COAP_OPTION_AUTH_TOKEN).
inline constexpr std::uint16_t kAliyunCoapTokenOption = 2088;
/// The same in SDKs up to v2.10. It is odd, i.e. critical (RFC 7252 §5.4.1): the endpoint must be
/// told it is understood, or requests carrying it get 4.02.
inline constexpr std::uint16_t kAliyunCoapTokenOptionOld = 61;

/// The /auth and /topic resources; add them to the CoAP endpoint and recognize kAliyunCoapTokenOptionOld.
std::vector<fc::coap::Resource> aliyunCoapResources(core::Platform& platform, AliyunDialect& aliyun);

}  // namespace fc::server::dialects
