// The generic dialect's registration; see module.hpp.
#include "server/dialects/generic/module.hpp"

#include "server/core/random.hpp"

namespace fc::server::dialects {

std::optional<core::Failure> GenericModule::prepareDevice(const core::Platform&, core::Device& device,
                                                          core::DeviceChange change) const {
  if (change == core::DeviceChange::Create && !device.secrets.contains("secret"))
    device.secrets["secret"] = core::randomHex(16);
  return std::nullopt;
}

}  // namespace fc::server::dialects
