// Test support: the server's dialects registered as server/app/app.cpp registers them, over an
// in-memory platform, a CoAP server that never listens and a publisher that drops everything.
#pragma once

#include <boost/asio/io_context.hpp>

#include <memory>

#include "server/coap/coap_server.hpp"
#include "server/coap/lwm2m_server.hpp"
#include "server/core/platform.hpp"
#include "server/dialects/aliyun/module.hpp"
#include "server/dialects/generic/module.hpp"
#include "server/dialects/gizwits/module.hpp"
#include "server/dialects/oceanconnect/module.hpp"
#include "server/dialects/registry.hpp"

namespace fc::test {

struct ServerDialects {
  struct DropPublisher final : server::dialects::MqttPublisher {
    void publish(std::string, std::vector<std::uint8_t>, mqtt::QoS) override {}
  };

  ServerDialects() {
    registry.add(std::make_unique<server::dialects::GenericModule>(context));
    registry.add(std::make_unique<server::dialects::AliyunModule>(context));
    registry.add(std::make_unique<server::dialects::OceanConnectModule>(context));
    registry.add(std::make_unique<server::dialects::GizwitsModule>(context, server::GizwitsConfig{}, "127.0.0.1"));
  }

  boost::asio::io_context ioc;
  server::core::PlatformClock clock;
  server::core::Platform platform{clock, nullptr};
  DropPublisher publisher;
  server::coap::CoapServer coap{ioc, server::CoapConfig{}, clock};
  server::coap::Lwm2mServer lwm2m{platform, coap};
  server::dialects::DialectContext context{platform, publisher, coap, lwm2m,
                                           [](const std::string&, const std::string&) {}};
  server::dialects::DialectRegistry registry;
};

}  // namespace fc::test
