#include "client/dialects/generic/generic_device.hpp"

#include <condition_variable>
#include <mutex>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "client/firmware_download.hpp"

namespace fc::client {

/// The device's firmware state, shared by the message handler, the downloads and the test thread.
struct GenericDevice::Ota {
  std::string id;
  OtaBehaviour behaviour;
  MqttClient* client = nullptr;
  boost::asio::io_context* ioc = nullptr;

  mutable std::mutex mutex;
  std::condition_variable changed;
  std::string version;
  OtaRecord record;
  std::uint32_t failuresLeft = 0;

  // The client goes with the device while a download or install timer may still run on its I/O
  // thread: publishing stops once the device closes (~GenericDevice).
  mutable std::mutex clientMutex;
  bool closed = false;

  void publish(const std::string& sub, const nlohmann::json& body, MqttClient::CompletionHandler acked = {}) const {
    const auto text = body.dump();
    std::lock_guard lock(clientMutex);
    if (closed) return;
    client->publish("devices/" + id + "/ota/" + sub, {text.begin(), text.end()}, mqtt::QoS::AtLeastOnce, false,
                    std::move(acked));
  }
  void progress(const std::string& jobId, const char* state, nlohmann::json extra = nlohmann::json::object()) const {
    extra["jobId"] = jobId;
    extra["state"] = state;
    publish("progress", extra);
  }
  void fail(const std::string& jobId, const std::string& code, const std::string& reason) {
    {
      std::lock_guard lock(mutex);
      record.failures.push_back(code + ": " + reason);
    }
    changed.notify_all();
    progress(jobId, "failed", {{"code", code}, {"reason", reason}});
  }

  /// On the client's I/O thread: take the offer, download, verify, install, "reboot".
  void onOffer(const FirmwareOffer& offer, const std::shared_ptr<Ota>& self) {
    {
      std::lock_guard lock(mutex);
      record.offers.push_back(offer);
    }
    changed.notify_all();
    if (behaviour.ignoreOffers) return;
    progress(offer.jobId, "downloading", {{"progress", 0}});
    DownloadOptions options;
    options.url = behaviour.https ? offer.httpsUrl : offer.url;
    options.tls.caFile = behaviour.caFile;
    options.md5 = offer.md5;
    options.sha256 = offer.sha256;
    options.maxConnections = behaviour.maxConnections;
    options.idleTimeout = behaviour.downloadIdleTimeout;
    if (behaviour.corruptAfterDownload) options.sha256 = std::string(64, '0');
    auto lastTenth = std::make_shared<std::uint64_t>(0);
    downloadFirmware(
        *ioc, std::move(options),
        [self, jobId = offer.jobId, lastTenth](std::uint64_t received, std::uint64_t total) {
          if (total == 0) return;
          const auto tenth = received * 10 / total;  // one report per 10 %
          if (tenth <= *lastTenth || received == total) return;
          *lastTenth = tenth;
          self->progress(jobId, "downloading", {{"progress", received * 100 / total}});
        },
        [self, offer](std::error_code ec, DownloadResult r) { self->downloaded(offer, ec, std::move(r), self); });
  }

  void downloaded(const FirmwareOffer& offer, std::error_code ec, DownloadResult r, const std::shared_ptr<Ota>& self) {
    {
      std::lock_guard lock(mutex);
      record.downloadConnections += r.connections;
      record.downloadResumes += r.resumes;
      if (!ec) record.lastImage = r.data;
    }
    if (ec == make_error_code(Error::DigestMismatch)) return fail(offer.jobId, "-3", "verify failed: " + ec.message());
    if (ec) return fail(offer.jobId, "-2", "download failed: " + ec.message());
    progress(offer.jobId, "downloaded");
    {
      std::unique_lock lock(mutex);
      if (failuresLeft > 0) {
        --failuresLeft;
        lock.unlock();
        return fail(offer.jobId, behaviour.failCode, behaviour.failReason);
      }
    }
    progress(offer.jobId, "installing");
    auto timer = std::make_shared<boost::asio::steady_timer>(*ioc, behaviour.installTime);
    timer->async_wait([self, timer, version = offer.version](const boost::system::error_code& ec) {
      if (ec) return;
      // As after the reboot; the device runs the new version once the cloud has acknowledged it.
      self->publish("version", {{"version", version}}, [self, version](std::error_code ec) {
        if (ec) return;
        {
          std::lock_guard lock(self->mutex);
          self->version = version;
          self->record.installed.push_back(version);
        }
        self->changed.notify_all();
      });
    });
  }
};

struct GenericDevice::Handlers {
  std::mutex mutex;
  CommandHandler onCommand;
  std::shared_ptr<Ota> ota;
};

namespace {

std::string str(const nlohmann::json& j, const char* name) {
  return j.contains(name) && j[name].is_string() ? j[name].get<std::string>() : std::string{};
}
std::uint64_t num(const nlohmann::json& j, const char* name) {
  return j.contains(name) && j[name].is_number_unsigned() ? j[name].get<std::uint64_t>() : 0;
}

}  // namespace

GenericDevice::GenericDevice(MqttOptions transport, std::string deviceId, std::string secret)
    : id_(std::move(deviceId)), handlers_(std::make_shared<Handlers>()) {
  transport.username = id_;
  transport.password = std::move(secret);
  if (transport.clientId.empty()) transport.clientId = id_;
  mqtt_ = std::make_unique<SyncMqttClient>(std::move(transport));
  MqttClient* client = &mqtt_->async();
  const std::string commands = "devices/" + id_ + "/commands";
  const std::string offers = "devices/" + id_ + "/ota/offer";
  const std::string cancels = "devices/" + id_ + "/ota/cancel";
  // Runs on the client's strand; answers go out with the asynchronous publish (never the blocking one).
  client->onMessage([h = handlers_, client, commands, offers, cancels, id = id_](Message m) {
    const auto body = nlohmann::json::parse(m.payload.begin(), m.payload.end(), nullptr, false);
    if (m.topic == offers || m.topic == cancels) {
      std::shared_ptr<Ota> ota;
      {
        std::lock_guard lock(h->mutex);
        ota = h->ota;
      }
      if (!ota || !body.is_object()) return;
      if (m.topic == cancels) {
        {
          std::lock_guard lock(ota->mutex);
          ota->record.cancels.push_back(str(body, "jobId"));
        }
        ota->changed.notify_all();
        return;
      }
      FirmwareOffer offer{str(body, "jobId"), str(body, "firmwareId"), str(body, "version"), str(body, "name"),
                          str(body, "module"), str(body, "url"),       str(body, "httpsUrl"), str(body, "md5"),
                          str(body, "sha256"), str(body, "mode"),      num(body, "size"),
                          static_cast<std::uint32_t>(num(body, "step")), static_cast<std::uint32_t>(num(body, "steps")),
                          static_cast<std::uint32_t>(num(body, "attempt"))};
      ota->onOffer(offer, ota);
      return;
    }
    if (m.topic != commands) return;
    if (!body.is_object() || !body.contains("id") || !body["id"].is_string()) return;
    Command c{body["id"].get<std::string>(), body.value("name", ""), body.value("payload", nlohmann::json()),
              body.value("binary", false)};
    CommandHandler handler;
    {
      std::lock_guard lock(h->mutex);
      handler = h->onCommand;
    }
    if (!handler) return;
    const auto result = handler(c).dump();
    client->publish("devices/" + id + "/commands/" + c.id + "/result", {result.begin(), result.end()},
                    mqtt::QoS::AtLeastOnce, false);
  });
}

GenericDevice::~GenericDevice() {
  if (!ota_) return;
  std::lock_guard lock(ota_->clientMutex);
  ota_->closed = true;
}

void GenericDevice::onCommand(CommandHandler handler) {
  std::lock_guard lock(handlers_->mutex);
  handlers_->onCommand = std::move(handler);
}

void GenericDevice::enableOta(std::string version, OtaBehaviour behaviour) {
  ota_ = std::make_shared<Ota>();
  ota_->id = id_;
  ota_->client = &mqtt_->async();
  ota_->ioc = &mqtt_->context();
  ota_->version = std::move(version);
  ota_->failuresLeft = behaviour.failAttempts;
  ota_->behaviour = std::move(behaviour);
  std::lock_guard lock(handlers_->mutex);
  handlers_->ota = ota_;
}

void GenericDevice::enableOta(std::string version) { enableOta(std::move(version), OtaBehaviour{}); }

std::string GenericDevice::firmwareVersion() const {
  if (!ota_) return {};
  std::lock_guard lock(ota_->mutex);
  return ota_->version;
}

GenericDevice::OtaRecord GenericDevice::otaRecord() const {
  if (!ota_) return {};
  std::lock_guard lock(ota_->mutex);
  return ota_->record;
}

bool GenericDevice::waitForVersion(const std::string& version, std::chrono::milliseconds timeout) {
  if (!ota_) return false;
  std::unique_lock lock(ota_->mutex);
  return ota_->changed.wait_for(lock, timeout, [&] { return ota_->version == version; });
}

bool GenericDevice::waitForOffers(std::size_t n, std::chrono::milliseconds timeout) {
  if (!ota_) return false;
  std::unique_lock lock(ota_->mutex);
  return ota_->changed.wait_for(lock, timeout, [&] { return ota_->record.offers.size() >= n; });
}

Expected<mqtt::Connack, std::error_code> GenericDevice::connect(std::chrono::milliseconds timeout) {
  auto ack = mqtt_->connect(timeout);
  if (!ack) return ack;
  if (ack->returnCode != mqtt::ConnectReturn::Accepted) return Unexpected(make_error_code(Error::ConnectionRefused));
  std::vector<mqtt::Subscription> subs{{"devices/" + id_ + "/commands", mqtt::QoS::AtLeastOnce}};
  if (ota_) {
    subs.push_back({"devices/" + id_ + "/ota/offer", mqtt::QoS::AtLeastOnce});
    subs.push_back({"devices/" + id_ + "/ota/cancel", mqtt::QoS::AtLeastOnce});
  }
  auto sub = mqtt_->subscribe(std::move(subs), timeout);
  if (!sub) return Unexpected(sub.error());
  for (auto code : *sub)
    if (code == 0x80) return Unexpected(make_error_code(Error::SubscriptionRefused));
  if (ota_) {
    // Ready for offers: the version it runs (docs/dialects/generic.md, "Firmware updates").
    const nlohmann::json report = {{"version", firmwareVersion()}};
    if (auto ec = publish("ota/version", report.dump(), mqtt::QoS::AtLeastOnce, timeout)) return Unexpected(ec);
  }
  return ack;
}

std::error_code GenericDevice::telemetry(const nlohmann::json& data, mqtt::QoS qos, std::chrono::milliseconds timeout) {
  return publish("telemetry", data.dump(), qos, timeout);
}

std::error_code GenericDevice::publish(const std::string& subtopic, const std::string& payload, mqtt::QoS qos,
                                       std::chrono::milliseconds timeout) {
  return mqtt_->publish("devices/" + id_ + "/" + subtopic, std::string_view(payload), qos, false, timeout);
}

void GenericDevice::disconnect() { mqtt_->disconnect(); }

}  // namespace fc::client
