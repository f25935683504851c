// Products and devices, with an index from (product, identifier key, identifier value) to device,
// kept in step with every create, change and delete: an aliyun login finds its device by
// (productKey's product, "deviceName", name) without looking at every device. I/O-free and not
// thread-safe: the platform calls it under its mutex.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "server/core/model.hpp"

namespace fc::server::core {

class DeviceRegistry {
 public:
  // --- products ---
  const Product* product(const std::string& id) const;
  /// Ordered by id.
  std::vector<Product> products() const;
  std::size_t productCount() const { return products_.size(); }
  /// Adds or replaces the product.
  void putProduct(Product product);
  /// Removes the product and returns its devices (removed too), ordered by id.
  std::vector<Device> eraseProduct(const std::string& id);

  // --- devices ---
  const Device* device(const std::string& id) const;
  bool contains(const std::string& deviceId) const { return devices_.contains(deviceId); }
  /// Ordered by id; of one product when given.
  std::vector<Device> devices(const std::optional<std::string>& productId = {}) const;
  const std::map<std::string, Device>& all() const { return devices_; }
  /// Adds or replaces the device (and its index entries).
  void putDevice(Device device);
  /// Changes a device's fields other than its id, product and identifiers (presence, name, …) in
  /// place; `change` is called with the device and the device is returned, or nullptr if unknown.
  template <class F>
  const Device* change(const std::string& id, F&& change) {
    auto it = devices_.find(id);
    if (it == devices_.end()) return nullptr;
    change(it->second);
    return &it->second;
  }
  /// Replaces a device's identifiers, re-indexing it.
  void setIdentifiers(const std::string& id, nlohmann::json identifiers);
  std::optional<Device> eraseDevice(const std::string& id);
  /// The device of `productId` whose identifiers[key] is the string `value`; the lowest id if
  /// several are.
  const Device* find(const std::string& productId, const std::string& key, const std::string& value) const;

  void clear();

 private:
  static std::string indexKey(const std::string& productId, const std::string& key, const std::string& value);
  void index(const Device& d);
  void unindex(const Device& d);

  std::map<std::string, Product> products_;
  std::map<std::string, Device> devices_;
  std::unordered_map<std::string, std::set<std::string>> index_;  // product \0 key \0 value → device ids
};

}  // namespace fc::server::core
