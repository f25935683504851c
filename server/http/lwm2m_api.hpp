// The generic LwM2M northbound API (docs/api.md, "LwM2M"): read, write, execute, observe and
// discover the objects, instances and resources of a registered device through the LwM2M server.
//   GET    /api/v1/devices/{id}/lwm2m/{o}[/{i}[/{r}]]       read, ?format= asks for a Content-Format
//                                                           → 200 {path, code, contentFormat, value | tlv | senml…}
//   PUT    /api/v1/devices/{id}/lwm2m/{o}/{i}[/{r}]         write {"text"} | {"tlvBase64"} | {"opaqueBase64"} | {"senml"}
//   POST   /api/v1/devices/{id}/lwm2m/{o}/{i}/{r}           execute, optional {"args": "…"}
//   POST   /api/v1/devices/{id}/lwm2m/{o}[/{i}[/{r}]]/observe  observe → 200 {observing, first response};
//                                                           again replaces the earlier observation
//   DELETE /api/v1/devices/{id}/lwm2m/{o}[/{i}[/{r}]]/observe  cancel (RFC 7641 GET Observe 1)
//   GET    /api/v1/devices/{id}/lwm2m/{o}[/{i}[/{r}]]/discover  Discover → 200 {…, value, links[{target, params}]}
// Every notification after the first answer is a "lwm2m.notification" event (data: the read answer's
// JSON plus "observing"), and goes to the device's journal (direction "in", summary "notification …").
// Errors: unknown device 404; not registered, or a queue-mode device asleep 409; the device's
// 4.xx/5.xx → 502 naming the code; no answer (CoAP timeout) → 504; bad path or body 422.
#pragma once

#include "server/coap/lwm2m_server.hpp"
#include "server/core/platform.hpp"
#include "server/http/router.hpp"

namespace fc::server::http {

void addLwm2mRoutes(Router& router, core::Platform& platform, coap::Lwm2mServer& lwm2m);

}  // namespace fc::server::http
