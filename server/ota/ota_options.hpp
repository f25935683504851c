// The OTA options (config keys ota.*; docs/ota.md).
#pragma once

#include <cstdint>
#include <string>

namespace fc::server {

struct OtaConfig {
  std::uint64_t maxFirmwareBytes = 512ull << 20;  // a larger upload is refused with 413
  // The public bases of the download URLs handed to devices, e.g. "http://iot.example.com:8080" for a
  // device that resolves a real cloud's host name to fakecloud; empty: from the bound listeners.
  std::string httpBaseUrl;
  std::string httpsBaseUrl;
  std::string coapBaseUrl;   // "coap://iot.example.com:5683"; empty: coap://<bind>:<coap port>
  std::string coapsBaseUrl;  // "coaps://iot.example.com:5684"; empty: coaps://<bind>:<coaps port>
  // The CoAP path firmware is served under, without slashes at the ends: /fw/{firmwareId} and
  // /fw/o/{token} (server/coap/firmware_hosting.hpp).
  std::string coapPath = "fw";
};

}  // namespace fc::server
