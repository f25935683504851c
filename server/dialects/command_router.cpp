// Per-dialect command dispatch; see command_router.hpp.
#include "server/dialects/command_router.hpp"

namespace fc::server::dialects {

void CommandRouter::sendCommand(const core::Device& device, const core::Product& product, const core::Command& command) {
  auto it = byDialect_.find(product.dialect);
  (it == byDialect_.end() ? fallback_ : *it->second).sendCommand(device, product, command);
}

}  // namespace fc::server::dialects
