// The firmware repository's routes (issue 14, docs/ota.md): upload (streamed, or a generated test
// image), list, get, delete under /api/v1/firmware, download offers and counts; and the device-facing
// downloads under /ota/ (outside /api, so no bearer token), with Range, If-Range and HEAD.
#pragma once

#include <memory>
#include <string>

#include "server/http/openapi.hpp"
#include "server/http/router.hpp"

namespace fc::server::core {
class Platform;
}

namespace fc::server::ota {
class FirmwareRepository;
class DownloadLedger;
}  // namespace fc::server::ota

namespace fc::server::http {

/// The public bases of the URLs handed to devices (`ota.httpBaseUrl`, `ota.httpsBaseUrl`,
/// `ota.coapBaseUrl`, `ota.coapsBaseUrl`), e.g. "http://127.0.0.1:8080"; filled once the listeners
/// are bound. `coapPath` is ota.coapPath without slashes at the ends.
struct OtaUrls {
  std::string http;
  std::string https;
  std::string coap;
  std::string coaps;
  std::string coapPath = "fw";
};

struct FirmwareApi {
  core::Platform& platform;
  std::shared_ptr<ota::FirmwareRepository> repository;
  std::shared_ptr<ota::DownloadLedger> ledger;
  std::shared_ptr<const OtaUrls> urls;
};

/// The anonymous download path of a firmware, and an offer's.
std::string firmwarePath(const std::string& firmwareId);
std::string offerPath(const std::string& token);
/// The same over CoAP (server/coap/firmware_hosting.hpp serves them): /<coapPath>/{id}, /<coapPath>/o/{token}.
std::string coapFirmwarePath(const OtaUrls& urls, const std::string& firmwareId);
std::string coapOfferPath(const OtaUrls& urls, const std::string& token);
/// The coap:// or coaps:// URL of an offer, what an LwM2M device is given as its Package URI
/// (Object 5 /5/0/1); over coaps it is served on the device's own DTLS session.
std::string coapOfferUrl(const OtaUrls& urls, const std::string& token, bool secure);

void addFirmwareRoutes(Router& router, FirmwareApi api);
/// The routes' part of the OpenAPI document.
OpenApiFragment firmwareOpenApi();

}  // namespace fc::server::http
