// The aliyun dialect's HTTP side, on the HTTP listener (docs/dialects/aliyun.md):
//   POST /auth                    HTTP device channel sign-in → {"code":0,"message":"success","info":{"token":…}}
//   POST /topic/{pk}/{dn}/…       a message from the device, header `password:{token}` → {"code":0,…,"info":{"messageId":N}}
//   POST /auth/devicename         the MQTT pre-step (form) → {"code":200,"data":{"iotId","iotToken","resources"},…}
//   POST /auth/register/device    dynamic registration (form, signed with the ProductSecret) → {"code":200,"data":{…,"deviceSecret"},…}
//   POST /api/v1/products/{id}/broadcast  northbound: {"topic","payload"|"payloadBase64"} → /broadcast/{pk}/{topic}, QoS 0
//   POST /api/v1/devices/{id}/rrpc  northbound RRPC: waits for the device's answer (200) or times out (504)
// The device endpoints answer HTTP 200 with Alibaba's own `code` in the body, as the SDK expects.
#pragma once

#include "server/core/platform.hpp"
#include "server/dialects/aliyun/aliyun.hpp"
#include "server/http/router.hpp"

namespace fc::server::dialects {

/// Checks `sign` over clientId, deviceName, productKey (and timestamp when given) with the device
/// secret, signmethod defaulting to hmacmd5 (shared by the HTTP and CoAP channels and the pre-step);
/// the device, or why not.
Expected<AliyunDialect::Triplet, std::string> aliyunCheckSign(const AliyunDialect& aliyun, const std::string& productKey,
                                                              const std::string& deviceName,
                                                              const std::string& clientId, const std::string& timestamp,
                                                              const std::string& signMethod, const std::string& sign);

void addAliyunRoutes(http::Router& router, core::Platform& platform, AliyunDialect& aliyun);

}  // namespace fc::server::dialects
