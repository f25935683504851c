#include "server/core/device_registry.hpp"

namespace fc::server::core {

const Product* DeviceRegistry::product(const std::string& id) const {
  auto it = products_.find(id);
  return it == products_.end() ? nullptr : &it->second;
}

std::vector<Product> DeviceRegistry::products() const {
  std::vector<Product> out;
  out.reserve(products_.size());
  for (const auto& [_, p] : products_) out.push_back(p);
  return out;
}

void DeviceRegistry::putProduct(Product product) {
  auto id = product.id;
  products_[std::move(id)] = std::move(product);
}

std::vector<Device> DeviceRegistry::eraseProduct(const std::string& id) {
  std::vector<Device> removed;
  for (auto d = devices_.begin(); d != devices_.end();) {
    if (d->second.productId != id) {
      ++d;
      continue;
    }
    unindex(d->second);
    removed.push_back(std::move(d->second));
    d = devices_.erase(d);
  }
  products_.erase(id);
  return removed;
}

const Device* DeviceRegistry::device(const std::string& id) const {
  auto it = devices_.find(id);
  return it == devices_.end() ? nullptr : &it->second;
}

std::vector<Device> DeviceRegistry::devices(const std::optional<std::string>& productId) const {
  std::vector<Device> out;
  for (const auto& [_, d] : devices_)
    if (!productId || d.productId == *productId) out.push_back(d);
  return out;
}

void DeviceRegistry::putDevice(Device device) {
  if (auto it = devices_.find(device.id); it != devices_.end()) unindex(it->second);
  index(device);
  auto id = device.id;
  devices_[std::move(id)] = std::move(device);
}

void DeviceRegistry::setIdentifiers(const std::string& id, nlohmann::json identifiers) {
  auto it = devices_.find(id);
  if (it == devices_.end()) return;
  unindex(it->second);
  it->second.identifiers = std::move(identifiers);
  index(it->second);
}

std::optional<Device> DeviceRegistry::eraseDevice(const std::string& id) {
  auto it = devices_.find(id);
  if (it == devices_.end()) return std::nullopt;
  unindex(it->second);
  Device out = std::move(it->second);
  devices_.erase(it);
  return out;
}

const Device* DeviceRegistry::find(const std::string& productId, const std::string& key,
                                   const std::string& value) const {
  auto it = index_.find(indexKey(productId, key, value));
  if (it == index_.end() || it->second.empty()) return nullptr;
  return device(*it->second.begin());
}

void DeviceRegistry::clear() {
  products_.clear();
  devices_.clear();
  index_.clear();
}

std::string DeviceRegistry::indexKey(const std::string& productId, const std::string& key, const std::string& value) {
  std::string k;
  k.reserve(productId.size() + key.size() + value.size() + 2);
  k.append(productId).push_back('\0');
  k.append(key).push_back('\0');
  k.append(value);
  return k;
}

void DeviceRegistry::index(const Device& d) {
  if (!d.identifiers.is_object()) return;
  for (const auto& [key, value] : d.identifiers.items())
    if (value.is_string()) index_[indexKey(d.productId, key, value.get_ref<const std::string&>())].insert(d.id);
}

void DeviceRegistry::unindex(const Device& d) {
  if (!d.identifiers.is_object()) return;
  for (const auto& [key, value] : d.identifiers.items()) {
    if (!value.is_string()) continue;
    auto it = index_.find(indexKey(d.productId, key, value.get_ref<const std::string&>()));
    if (it == index_.end()) continue;
    it->second.erase(d.id);
    if (it->second.empty()) index_.erase(it);
  }
}

}  // namespace fc::server::core
