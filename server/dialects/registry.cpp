// The dialect registry; see registry.hpp.
#include "server/dialects/registry.hpp"

#include <stdexcept>

#include "server/coap/coap_server.hpp"

namespace fc::server::dialects {

Dialect& DialectRegistry::add(std::unique_ptr<Dialect> dialect) {
  if (!dialect || dialect->name().empty()) throw std::invalid_argument("a dialect needs a name");
  if (find(dialect->name()))
    throw std::invalid_argument("dialect '" + std::string(dialect->name()) + "' registered twice");
  if (const auto* mqtt = dialect->mqtt()) mqtt_.push_back(mqtt);
  dialects_.push_back(std::move(dialect));
  return *dialects_.back();
}

Dialect* DialectRegistry::find(std::string_view name) const {
  for (const auto& d : dialects_)
    if (d->name() == name) return d.get();
  return nullptr;
}

const MqttDialect* DialectRegistry::mqtt(std::string_view name) const {
  const auto* d = find(name);
  return d ? d->mqtt() : nullptr;
}

std::vector<std::string> DialectRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& d : dialects_) out.emplace_back(d->name());
  return out;
}

ota::OtaPart* DialectRegistry::otaPart(std::string_view name) const {
  Dialect* d = find(name);
  return d ? d->ota() : nullptr;
}

void DialectRegistry::addCoapResources(coap::CoapServer& server) const {
  for (const auto& d : dialects_) {
    auto part = d->coap();
    for (auto& resource : part.resources) server.addResource(std::move(resource));
    for (auto option : part.criticalOptions) server.recognizeOption(option);
  }
}

void DialectRegistry::addRoutes(http::Router& router) const {
  for (const auto& d : dialects_) d->addRoutes(router);
}

http::OpenApiParts DialectRegistry::openApi() const {
  http::OpenApiParts parts;
  parts.dialects = names();
  for (const auto& d : dialects_) parts.fragments.push_back(d->openApi());
  return parts;
}

void DialectRegistry::tick() const {
  for (const auto& d : dialects_) d->tick();
}

void DialectRegistry::reset() const {
  for (const auto& d : dialects_) d->reset();
}

void DialectRegistry::serving(const ServedPorts& ports) const {
  for (const auto& d : dialects_) d->serving(ports);
}

}  // namespace fc::server::dialects
