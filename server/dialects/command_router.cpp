// Per-dialect command dispatch; see command_router.hpp.
#include "server/dialects/command_router.hpp"

#include "server/dialects/registry.hpp"

namespace fc::server::dialects {

void CommandRouter::sendCommand(const core::Device& device, const core::Product& product,
                                const core::Command& command) {
  auto* dialect = dialects_.find(product.dialect);
  auto* sender = dialect ? dialect->commandSender() : nullptr;
  (sender ? *sender : fallback_).sendCommand(device, product, command);
}

}  // namespace fc::server::dialects
